//! What the lab answers any client at once on core NATS (`reprint.v1.rpc.<lab>.<method>`):
//! a **quote** by its own rules and its own file of the customer (read only: nothing is
//! recorded), its **catalog** (sizes, prices, the ICC profiles of its printers, the digital copy,
//! the discount policy in words) and its **locale**; and its entry in the site directory.

use reprint_bus::directory::SiteAnnouncement;
use reprint_bus::request::RpcError;
use reprint_domain::file::UserFile;
use reprint_domain::order_check::check_order;
use reprint_domain::protocol::RejectCode;
use reprint_domain::protocol::{
    CatalogReply, LocaleReply, PrinterProfile, QuoteReply, QuoteRequest, encode_profile,
    order_items,
};
use reprint_domain::{DomainError, Money, PrintSize, SiteKind, SiteRules, determine_charge_with};
use reprint_service::storefront::{Extra, Storefront};
use reprint_site::{Identification, Identity};

use crate::config::LabConfig;
use crate::error::LabError;
use crate::intake::{estimate_finish, evidence};
use crate::state::Lab;

fn rpc_error(e: LabError) -> RpcError {
    match e {
        LabError::Domain(DomainError::UnknownSize { size }) => RpcError::new(
            "unknown_size",
            format!("this lab does not print size {size}"),
        ),
        LabError::Order(e) if e.code() == RejectCode::UnknownSize => {
            RpcError::new("unknown_size", e.to_string())
        }
        LabError::Order(e) => RpcError::bad_request(e.to_string()),
        LabError::Domain(d) => RpcError::bad_request(d.to_string()),
        LabError::BadRequest(m) => RpcError::bad_request(m),
        other => {
            tracing::warn!(error = %other, "quote failed");
            RpcError::internal("the lab could not quote now; try again")
        }
    }
}

/// The lab's charge for this customer and these prints now, with the finish estimate.
pub async fn quote(lab: Lab, req: QuoteRequest) -> Result<QuoteReply, RpcError> {
    quote_inner(&lab, req).await.map_err(rpc_error)
}

async fn quote_inner(lab: &Lab, req: QuoteRequest) -> Result<QuoteReply, LabError> {
    // The one order check: a quote refuses what the order would be refused for, in its words.
    check_order(&req.customer, &req.items, &|size| lab.prints_size(size))?;
    let who = Identity::from_customer(&req.customer)?;
    // Read only: the transaction is rolled back.
    let mut tx = lab.store.begin().await?;
    // The customer's file here, if they have one, and the evidence the reception will count
    // (`intake::evidence`): the quote is what the lab will charge. Found by the registration
    // number the requester sends only (a quote comes over the network: a name and telephone
    // must not tell whether or when someone ordered here).
    let found = lab
        .files
        .find_as(&mut tx, &who, Identification::of_quote())
        .await?;
    let (file, registration) = match found {
        Some(number) => {
            let loaded = lab.files.load(&mut tx, &number).await?;
            (loaded.file, Some(number.as_str().to_string()))
        }
        None => (UserFile::default(), None),
    };
    let items = order_items(&req.items);
    let evidence = evidence(lab, &mut tx, registration.as_deref(), &req.items).await?;
    let charge = determine_charge_with(
        lab.rules(),
        &file,
        &items,
        req.digital_copy,
        &evidence,
        req.at,
    )?;
    let estimated_finish = estimate_finish(lab, &mut tx, &items, lab.clock.now()).await?;
    tx.rollback().await?;
    Ok(QuoteReply {
        site: lab.site().clone(),
        site_kind: SiteKind::Lab,
        charge,
        estimated_finish: Some(estimated_finish),
    })
}

/// The lab's charging rules with the products it sells besides prints in its price list: the
/// digital copy at `production.digital_copy_price` (seed 000, claims 2, 18). The quote and the
/// reception charge by these (`reprint_domain::determine_charge_with`), the catalog lists it.
pub fn rules_with_products(config: &LabConfig) -> SiteRules {
    let mut rules = config.site.rules.clone();
    rules.prices.digital_copy = Some(reprint_domain::Money::new(
        config.production.digital_copy_price,
        rules.currency,
    ));
    rules
}

/// The sizes the lab prints (priced and on a printer), in the domain's order.
pub fn sizes(lab: &Lab) -> Vec<PrintSize> {
    PrintSize::ALL
        .into_iter()
        .filter(|s| lab.printer_for(*s).is_some())
        .filter(|s| {
            !lab.rules().prices.charges_prints() || lab.rules().prices.print_price(*s).is_ok()
        })
        .collect()
}

/// The names of the printers' ICC profiles, once each.
pub fn icc_profiles(lab: &Lab) -> Vec<String> {
    let mut names: Vec<String> = lab.printers.iter().map(|p| p.icc_name.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// The lab as the network sees it (`reprint_service::storefront`).
fn storefront(lab: &Lab) -> Storefront<'_> {
    Storefront {
        rules: lab.rules(),
        kind: SiteKind::Lab,
        name: &lab.config.site.name,
        address: &lab.config.site.address,
        sizes: sizes(lab),
        made: "silver-halide paper",
        extras: vec![Extra {
            code: "digital-copy:zip".into(),
            description: "digital copy: the order's images with their print history in a ZIP, delivered with the prints".into(),
            // The price the quote and the reception charge (`rules_with_products`).
            price: lab.rules().prices.digital_copy.unwrap_or_else(|| {
                Money::new(lab.config.production.digital_copy_price, lab.rules().currency)
            }),
        }],
        icc_profiles: icc_profiles(lab),
        heartbeat_secs: lab.config.nats.heartbeat_secs,
        opening_hours: lab.config.site.opening_hours.clone(),
    }
}

/// Each printer's ICC profile with its printer, paper and sizes, and the profile itself
/// (base64) when small enough to travel in the catalog (claims 4, 25).
pub fn printer_profiles(lab: &Lab) -> Vec<PrinterProfile> {
    lab.printers
        .iter()
        .map(|p| PrinterProfile {
            name: p.icc_name.clone(),
            description: reprint_media::icc::description(&p.icc)
                .unwrap_or_else(|| p.icc_name.clone()),
            printer: p.config.name.clone(),
            paper: p.config.paper.clone(),
            sizes: p.config.sizes.clone(),
            icc: encode_profile(&p.icc),
        })
        .collect()
}

pub fn catalog(lab: &Lab) -> CatalogReply {
    let mut catalog = storefront(lab).catalog();
    catalog.printer_profiles = printer_profiles(lab);
    catalog
}

pub fn locale(lab: &Lab) -> LocaleReply {
    storefront(lab).locale()
}

/// The lab's entry in the site directory.
pub fn announcement(lab: &Lab) -> Result<SiteAnnouncement, LabError> {
    storefront(lab)
        .announcement(lab.clock.now())
        .map_err(|e| LabError::Internal(e.to_string()))
}

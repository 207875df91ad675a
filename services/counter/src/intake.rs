//! Walk-in intake (seed 004, Fig. 2 and Fig. 5 steps S401-S404): the customer hands over a
//! medium; staff find or register them in the counter's individual user files; the counter
//! opens its reception under its own reception number with its own charge, gives the slip, and
//! sends the images and its file extract to the lab the customer chose.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use reprint_bus::subjects::{self, Topic};
use reprint_domain::counter_order::Command as OrderCommand;
use reprint_domain::delivery_counter::OtherCounter;
use reprint_domain::extract::{self, FileExtract};
use reprint_domain::file::{OpenReception, Route};
use reprint_domain::order_check::{check_customer, check_items, check_order};
use reprint_domain::protocol::{Customer, OrderPlaced, PlacedItem, Sender, Stage};
use reprint_domain::{Charge, ImageId, OrderId, OrderItem, PrintSize, ReceptionNumber, SiteKind};
use reprint_site::Identity;

use reprint_eventstore::sql::{self, Arg};

use crate::db;
use crate::error::{CounterError, Result};
use crate::medium::Medium;
use crate::messages;
use crate::order::{self, Opening};
use crate::state::{Counter, RETRIES};

/// Who hands the medium over.
#[derive(Debug, Clone, Default)]
pub struct CustomerInput {
    /// The counter's registration number, when they have a card of this counter.
    pub registration_number: Option<String>,
    pub name: String,
    pub telephone: String,
    pub address: Option<String>,
    pub email: Option<String>,
}

/// A walk-in order as staff entered it.
#[derive(Debug, Clone)]
pub struct IntakeRequest {
    pub customer: CustomerInput,
    pub lab: String,
    pub size: String,
    /// Prints of each image when the card has no print order (DPOF).
    pub quantity: u32,
    /// Where the customer collects the prints: another counter of the network (its site id),
    /// or `None` (or this counter's id) for here (`crate::elsewhere`).
    pub pickup_at: Option<String>,
    /// The digital copy on a medium besides the prints (`crate::writer`): offered only by a
    /// counter with a `[writer]` that sells that medium.
    pub copy_on: Option<reprint_domain::digital_media::DigitalMedium>,
}

/// The reception opened: what the slip shows.
#[derive(Debug, Clone)]
pub struct Intake {
    pub order: OrderId,
    pub reception_number: ReceptionNumber,
    pub registration_number: String,
    pub newly_registered: bool,
    pub received_at: DateTime<Utc>,
    pub expected_ready: DateTime<Utc>,
    pub lab: String,
    pub items: Vec<OrderItem>,
    pub charge: Charge,
    pub from_dpof: bool,
    /// The counter where the prints are collected, when not here.
    pub pickup_at: Option<crate::elsewhere::Place>,
    /// The medium the digital copy is written on, when one was ordered.
    pub copy_on: Option<reprint_domain::digital_media::DigitalMedium>,
}

/// Checks what staff typed before the medium is read.
pub fn check_request(counter: &Counter, req: &IntakeRequest) -> Result<(Identity, PrintSize)> {
    if req.customer.name.trim().is_empty() {
        return Err(CounterError::Invalid(
            "the customer's name is missing".into(),
        ));
    }
    // The customer as the order check takes them (the same words at every door).
    let (name, telephone) = check_customer(&customer_of(req))?;
    let Some(lab) = counter.config.lab(&req.lab) else {
        let known: Vec<&str> = counter.config.labs.iter().map(|l| l.id.as_str()).collect();
        return Err(CounterError::Invalid(format!(
            "lab {:?} is not one this counter works with ({})",
            req.lab,
            known.join(", ")
        )));
    };
    let size = PrintSize::parse(req.size.trim())?;
    // A medium this counter does not write (none without a writer), or for an order collected
    // elsewhere: refused in words before the card is read.
    if let Some(m) = req.copy_on {
        reprint_domain::digital_media::prices_for(&counter.config.site.prices, m)?;
        let elsewhere = req
            .pickup_at
            .as_deref()
            .map(str::trim)
            .is_some_and(|p| !p.is_empty() && p != counter.rules().site.as_str());
        reprint_domain::digital_media::check_pickup(Some(m), elsewhere)?;
    }
    // Before the medium is read: the size and the prints of each image that staff chose, in
    // the lab's words (the lines of the medium are checked again once read).
    check_items(
        &[PlacedItem {
            image: ImageId::of_bytes(b""),
            name: "each image".into(),
            size,
            quantity: req.quantity,
            edits: None,
            perceptual_hash: None,
            history: vec![],
        }],
        &lab.prints(),
    )?;
    let nonempty = |s: &Option<String>| {
        s.as_ref()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    Ok((
        Identity {
            registration_number: nonempty(&req.customer.registration_number),
            name,
            telephone,
            address: nonempty(&req.customer.address),
            email: nonempty(&req.customer.email),
        },
        size,
    ))
}

/// The customer as an order names them, from what staff typed.
fn customer_of(req: &IntakeRequest) -> Customer {
    Customer {
        name: req.customer.name.clone(),
        telephone: req.customer.telephone.clone(),
        address: None,
        email: None,
        registration_number: None,
    }
}

/// The lines of a walk-in order as the lab gets them (no edits at the counter yet).
fn placed_items(items: &[OrderItem]) -> Vec<PlacedItem> {
    items
        .iter()
        .map(|i| PlacedItem {
            image: i.image,
            name: i.name.clone(),
            size: i.size,
            quantity: i.quantity,
            edits: None,
            perceptual_hash: None,
            history: vec![],
        })
        .collect()
}

/// The key of a set of images: the content hash of their sorted, distinct ids.
pub fn card_key(images: impl IntoIterator<Item = ImageId>) -> String {
    let set: std::collections::BTreeSet<String> = images.into_iter().map(|i| i.to_hex()).collect();
    let joined: Vec<String> = set.into_iter().collect();
    // The same content hash images are named by, over the list.
    ImageId::of_bytes(joined.join("\n").as_bytes()).to_hex()
}

/// The reception numbers of the walk-in orders taken in with exactly these images since
/// `since` (the same card handed in twice), newest first.
pub async fn card_taken_lately(
    counter: &Counter,
    images: impl IntoIterator<Item = ImageId>,
    since: DateTime<Utc>,
) -> Result<Vec<String>> {
    let mut tx = counter.store.begin().await?;
    let rows: Vec<(String,)> = sql::fetch(
        tx.conn(),
        "SELECT o.reception_number FROM counter_intake_cards c JOIN counter_orders o ON o.order_id = c.order_id WHERE c.card = $1 AND c.taken_at >= $2 ORDER BY c.taken_at DESC",
        &[Arg::from(card_key(images)), Arg::from(sql::ts(since))],
    )
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|(r,)| r).collect())
}

/// One image's prints as staff chose them on the intake grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Index into [`Medium::images`].
    pub image: usize,
    pub size: PrintSize,
    pub quantity: u32,
}

/// The lines of the order: the grid's choices, else the card's print order (DPOF) or every
/// image at the one size and quantity staff chose.
fn order_items(
    medium: &Medium,
    req: &IntakeRequest,
    size: PrintSize,
    choices: Option<&[Choice]>,
) -> Vec<OrderItem> {
    match choices {
        Some(choices) => choices
            .iter()
            .filter(|c| c.quantity > 0)
            .filter_map(|c| {
                medium.images.get(c.image).map(|img| OrderItem {
                    image: img.id,
                    name: img.name.clone(),
                    size: c.size,
                    quantity: c.quantity,
                })
            })
            .collect(),
        None => medium
            .chosen(req.quantity)
            .iter()
            .filter_map(|c| medium.images.get(c.image).map(|img| (img, c.quantity)))
            .map(|(img, quantity)| OrderItem {
                image: img.id,
                name: img.name.clone(),
                size,
                quantity,
            })
            .collect(),
    }
}

/// What the order will cost before it is taken: the counter's charge by its own policy (read
/// only, the customer identified in person as at intake), the lab's by its own (asked on NATS
/// request/reply), the total and the ready-by.
#[derive(Debug, Clone)]
pub struct Price {
    pub items: Vec<OrderItem>,
    pub counter: Charge,
    /// The lab's quote, or why it could not be asked now.
    pub lab: std::result::Result<reprint_domain::protocol::QuoteReply, String>,
    /// Collected at another counter: that counter's quote by its own policy (it charges, this
    /// counter does not: `reprint_domain::delivery_counter`), or why it could not be asked.
    pub pickup_at: Option<(
        crate::elsewhere::Place,
        std::result::Result<reprint_domain::protocol::QuoteReply, String>,
    )>,
    /// Counter + lab (or, collected elsewhere, that counter + lab), when they answered.
    pub total: Option<reprint_domain::Money>,
    /// The same truth as the slip's (`pickup::ready_by`).
    pub ready_by: Option<DateTime<Utc>>,
}

/// How long the lab has to answer a quote at the counter.
const LAB_QUOTE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The registration number staff typed, checked against its file's telephone (issue 15): a
/// number whose file has another telephone is asked about, never registered over silently.
pub async fn check_number(
    counter: &Counter,
    req: &IntakeRequest,
) -> Result<reprint_site::NumberCheck> {
    let (identity, _) = check_request(counter, req)?;
    let mut tx = counter.store.begin().await?;
    let check = counter.files.check_number(&mut tx, &identity).await?;
    tx.rollback().await?;
    Ok(check)
}

/// Prices the order staff are about to take in (nothing is written).
pub async fn price(
    counter: &Counter,
    req: &IntakeRequest,
    medium: &Medium,
    choices: Option<&[Choice]>,
    now: DateTime<Utc>,
) -> Result<Price> {
    let (identity, size) = check_request(counter, req)?;
    let items = order_items(medium, req, size, choices);
    let lab = counter
        .config
        .lab(&req.lab)
        .ok_or_else(|| CounterError::Invalid(format!("unknown lab {:?}", req.lab)))?;
    check_order(&customer_of(req), &placed_items(&items), &lab.prints())?;
    let request = reprint_domain::protocol::QuoteRequest {
        customer: Customer {
            name: identity.name.clone(),
            telephone: identity.telephone.as_str().to_string(),
            address: None,
            email: None,
            registration_number: identity.registration_number.clone(),
        },
        items: placed_items(&items),
        at: now,
        digital_copy: false,
    };
    let place = crate::elsewhere::pickup_place(counter, req.pickup_at.as_deref())?;
    let mut tx = counter.store.begin().await?;
    let mut own = counter
        .files
        .quote_as(&mut tx, &request, reprint_site::Identification::InPerson)
        .await?;
    tx.rollback().await?;
    if let Some(m) = req.copy_on {
        // The digital copy on a medium: its line where the charge rules put it.
        crate::writer::check(counter, m, place.is_some(), originals_bytes(medium, &items))?;
        own = reprint_domain::digital_media::with_medium(&own, &counter.rules().prices, m)?;
    }
    if let Some(p) = &place {
        // Collected elsewhere: nothing charged here (the rule's lines say why).
        own = reprint_domain::delivery_counter::reception_counter_charge(
            &own,
            &OtherCounter::DeliveryCounter(p.id.clone()),
        );
    }
    // The lab knows the customer by its own file: no registration number of this counter.
    let to_lab = reprint_domain::protocol::QuoteRequest {
        customer: customer_of(req),
        ..request
    };
    let subject = subjects::rpc(&messages::bus_site(&lab.id)?, subjects::RpcMethod::Quote);
    let lab_quote = reprint_bus::request::request_json::<_, reprint_domain::protocol::QuoteReply>(
        &counter.nats,
        &subject,
        &to_lab,
        LAB_QUOTE_TIMEOUT,
    )
    .await
    .map_err(|e| e.to_string());
    // The delivery counter's charge by its own policy; it knows the customer from afar (no
    // registration number of its own: a first order there).
    let pickup_at = match place {
        None => None,
        Some(p) => {
            let to_counter = reprint_domain::protocol::QuoteRequest {
                customer: customer_of(req),
                items: placed_items(&items),
                at: now,
                digital_copy: false,
            };
            let subject = subjects::rpc(&messages::bus_site(&p.id)?, subjects::RpcMethod::Quote);
            let quote =
                reprint_bus::request::request_json::<_, reprint_domain::protocol::QuoteReply>(
                    &counter.nats,
                    &subject,
                    &to_counter,
                    LAB_QUOTE_TIMEOUT,
                )
                .await
                .map_err(|e| e.to_string());
            Some((p, quote))
        }
    };
    let counter_part = match &pickup_at {
        None => Some(own.total),
        Some((_, quote)) => quote.as_ref().ok().map(|q| q.charge.total),
    };
    let total = lab_quote
        .as_ref()
        .ok()
        .zip(counter_part)
        .and_then(|(q, c)| c.checked_add(q.charge.total).ok());
    let promised = now + Duration::hours(i64::from(lab.turnaround_hours));
    let ready_by = crate::pickup::ready_by(
        Some(promised),
        lab_quote.as_ref().ok().and_then(|q| q.estimated_finish),
        crate::pickup::transport(
            counter,
            lab.id.as_str(),
            pickup_at.as_ref().map(|(p, _)| p.id.as_str()),
        ),
    );
    Ok(Price {
        items,
        counter: own,
        lab: lab_quote,
        pickup_at,
        total,
        ready_by,
    })
}

/// Takes a walk-in order: checks it (`check_order`), spools the images, then in one transaction finds or registers the
/// customer, opens the reception, writes the order for the lab (held until its images are in
/// the object store) and the status `placed`.
pub async fn take_in(
    counter: &Counter,
    req: &IntakeRequest,
    medium: &Medium,
    now: DateTime<Utc>,
) -> Result<Intake> {
    take_in_chosen(counter, req, medium, None, now).await
}

/// As [`take_in`], with the prints of each image chosen on the intake grid when `choices`.
pub async fn take_in_chosen(
    counter: &Counter,
    req: &IntakeRequest,
    medium: &Medium,
    choices: Option<&[Choice]>,
    now: DateTime<Utc>,
) -> Result<Intake> {
    let (identity, size) = check_request(counter, req)?;
    let items = order_items(medium, req, size, choices);
    if items.is_empty() {
        return Err(CounterError::Invalid(
            "no image is chosen for printing: choose at least one".into(),
        ));
    }
    // The one order check, before anything is spooled or charged: what the lab would refuse
    // is refused here, in its words.
    let lab = counter
        .config
        .lab(&req.lab)
        .ok_or_else(|| CounterError::Invalid(format!("unknown lab {:?}", req.lab)))?;
    check_order(&customer_of(req), &placed_items(&items), &lab.prints())?;
    let place = crate::elsewhere::pickup_place(counter, req.pickup_at.as_deref())?;
    // The digital copy on a medium: its price list, and the originals staged for the writer.
    let copy = match req.copy_on {
        None => None,
        Some(m) => Some((
            m,
            crate::writer::check(counter, m, place.is_some(), originals_bytes(medium, &items))?,
        )),
    };
    for img in &medium.images {
        if items.iter().any(|i| i.image == img.id) {
            counter
                .spool
                .put_file(&img.id.to_hex(), &img.staged)
                .await?;
        }
    }
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    let order = OrderId::from_parts(now.timestamp_millis().max(0) as u64, random);
    let originals = crate::writer::originals(medium, &items);
    if copy.is_some() {
        crate::writer::stage(counter, &order.to_string(), medium, &originals).await?;
    }
    let copy = copy.map(|(m, prices)| MediumCopy {
        medium: m,
        prices,
        originals,
    });
    let mut attempt = 0;
    loop {
        attempt += 1;
        match open(
            counter,
            req,
            &identity,
            &items,
            order,
            now,
            medium.dpof.is_some(),
            place.as_ref(),
            copy.as_ref(),
        )
        .await
        {
            Err(e) if e.is_retryable() && attempt < RETRIES => continue,
            Err(e) => return Err(e),
            Ok(intake) => {
                counter.forwarder.notify_one();
                counter.relay.wake();
                counter.metrics.orders.with_label_values(&["placed"]).inc();
                return Ok(intake);
            }
        }
    }
}

/// The bytes of the order's originals (each image once), for whether they fit on a disc.
fn originals_bytes(medium: &Medium, items: &[OrderItem]) -> u64 {
    crate::writer::originals(medium, items)
        .iter()
        .filter_map(|o| medium.images.iter().find(|m| m.id.to_hex() == o.image))
        .map(|m| std::fs::metadata(&m.staged).map(|md| md.len()).unwrap_or(0))
        .sum()
}

/// The digital copy on a medium of an order being opened.
struct MediumCopy {
    medium: reprint_domain::digital_media::DigitalMedium,
    /// The counter's list with the digital copy at the medium's price.
    prices: reprint_domain::PriceList,
    originals: Vec<crate::writer::JobOriginal>,
}

#[allow(clippy::too_many_arguments)]
async fn open(
    counter: &Counter,
    req: &IntakeRequest,
    identity: &Identity,
    items: &[OrderItem],
    order: OrderId,
    now: DateTime<Utc>,
    from_dpof: bool,
    place: Option<&crate::elsewhere::Place>,
    copy: Option<&MediumCopy>,
) -> Result<Intake> {
    let rules = counter.rules();
    // Charged by the list with the medium's price when the copy is ordered (the domain's rule).
    let charged_by = match copy {
        Some(c) => reprint_domain::SiteRules {
            prices: c.prices.clone(),
            ..rules.clone()
        },
        None => rules.clone(),
    };
    let lab = counter
        .config
        .lab(&req.lab)
        .ok_or_else(|| CounterError::Invalid(format!("unknown lab {:?}", req.lab)))?;
    let expected_ready = now + Duration::hours(i64::from(lab.turnaround_hours));
    let mut tx = counter.store.begin().await?;
    let (mut file, newly_registered) = counter
        .files
        .find_or_register(&mut tx, identity, now)
        .await?;
    let placeholder = ReceptionNumber::new(&rules.reception_number, 1)?;
    // The site's files charge by the site's rules: with the medium, by the same rules with the
    // medium's price list (the same site, store and numbers).
    let files = match copy {
        Some(_) => std::borrow::Cow::Owned(reprint_site::SiteFiles::new(charged_by.clone())),
        None => std::borrow::Cow::Borrowed(&counter.files),
    };
    let (reception, _) = files
        .open_reception(
            &mut tx,
            &mut file,
            OpenReception {
                number: placeholder,
                order,
                route: Route::CounterMedium,
                received_at: now,
                data_receive: None,
                partner: lab.id.clone(),
                items: items.to_vec(),
                digital_copy: copy.is_some(),
                evidence: vec![],
                estimated_finish: Some(expected_ready),
                rules: charged_by,
            },
        )
        .await?;
    // Collected at another counter: the one more item, and nothing charged here.
    let reception = match place {
        None => reception,
        Some(p) => {
            let other = OtherCounter::DeliveryCounter(p.id.clone());
            counter
                .files
                .execute(
                    &mut tx,
                    &mut file,
                    reprint_domain::file::Command::RecordOtherCounter {
                        number: reception.number.clone(),
                        other: other.clone(),
                    },
                )
                .await?;
            crate::elsewhere::record(&mut tx, &order.to_string(), &other, None).await?;
            file.file
                .reception(&reception.number)
                .cloned()
                .ok_or_else(|| CounterError::Internal("the reception just opened is gone".into()))?
        }
    };
    let extract: FileExtract = extract::extract(
        &file.file,
        &rules.site,
        SiteKind::Counter,
        &reception.number,
        lab.sharing,
    )
    .ok_or_else(|| CounterError::Internal("the reception just opened is not in the file".into()))?;
    let user = file
        .file
        .user
        .clone()
        .ok_or_else(|| CounterError::Internal("the file just found has no user".into()))?;
    let placed = OrderPlaced {
        order,
        route: Route::CounterMedium,
        sender: Sender::Counter(rules.site.clone()),
        lab: lab.id.clone(),
        delivery_counter: place.map_or_else(|| rules.site.clone(), |p| p.id.clone()),
        placed_at: now,
        data_receive: None,
        currency: rules.currency,
        customer: Customer {
            name: user.name.clone(),
            telephone: user.telephone.as_str().to_string(),
            address: None,
            email: None,
            registration_number: None,
        },
        items: placed_items(items),
        counter_extract: Some(extract),
        // Intake takes prints only; the lab's digital copy is not offered at the counter yet.
        digital_copy: false,
        // The counter's own number travels in its extract (Fig. 2).
        counter_registration_number: None,
        source_profiles: Vec::new(),
    };
    let payload =
        serde_json::to_string(&placed).map_err(|e| CounterError::Internal(e.to_string()))?;
    let hashes: Vec<String> = items.iter().map(|i| i.image.to_hex()).collect();
    sql::exec(
        tx.conn(),
        "INSERT INTO counter_held_orders (order_id, message_id, subject, payload, images, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            Arg::from(order.to_string()),
            Arg::from(messages::message_id(&rules.site, Topic::OrderPlaced, order)),
            Arg::from(subjects::order_placed(&messages::bus_site(&lab.id)?)),
            Arg::from(payload),
            Arg::from(hashes.join(" ")),
            Arg::from(sql::ts(now)),
        ],
    )
    .await?;
    // The order's life starts here: taken in, awaiting the lab.
    order::execute(
        &mut tx,
        &order.to_string(),
        OrderCommand::TakeIn {
            reception: reception.number.to_string(),
            lab: lab.id.clone(),
            at: now,
        },
        Some(&Opening {
            reception_number: reception.number.to_string(),
            registration_number: file.registration_number.to_string(),
            customer_name: user.name.clone(),
            telephone: user.telephone.as_str().to_string(),
            received_at: now,
            expected_ready: Some(expected_ready),
        }),
    )
    .await?;
    // The digital copy on a medium: the writer's job, in this transaction (written once).
    if let Some(c) = copy {
        crate::writer::record(
            &mut tx,
            &order.to_string(),
            reception.number.as_str(),
            file.registration_number.as_str(),
            c.medium,
            &c.originals,
            now,
        )
        .await?;
    }
    // The card's photos, for "the same card twice" (`card_taken_lately`).
    sql::exec(
        tx.conn(),
        "INSERT INTO counter_intake_cards (order_id, card, taken_at) VALUES ($1, $2, $3)",
        &[
            Arg::from(order.to_string()),
            Arg::from(card_key(items.iter().map(|i| i.image))),
            Arg::from(sql::ts(now)),
        ],
    )
    .await?;
    // The order, forwarded later, and its pickup continue this trace (the intake's span).
    db::save_trace(&mut tx, &order.to_string()).await?;
    tx.enqueue(&[messages::status(
        &rules.site,
        order,
        Stage::Placed,
        now,
        match place {
            None => format!(
                "reception {} at {}, for {}",
                reception.number, counter.config.name, lab.name
            ),
            Some(p) => format!(
                "reception {} at {}, for {}; to be collected at {}",
                reception.number, counter.config.name, lab.name, p.name
            ),
        },
        Some(reception.charge.clone()),
    )?])
    .await?;
    tx.commit().await?;
    Ok(Intake {
        order,
        reception_number: reception.number.clone(),
        registration_number: file.registration_number.to_string(),
        newly_registered,
        received_at: now,
        expected_ready,
        lab: lab.id.to_string(),
        items: reception.items.clone(),
        charge: reception.charge.clone(),
        from_dpof,
        pickup_at: place.cloned(),
        copy_on: copy.map(|c| c.medium),
    })
}

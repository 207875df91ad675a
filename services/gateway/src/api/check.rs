//! What an order request says (lab, counter, lines) and the one order check at the gateway's
//! door, before anything is sent to a site.

use reprint_bus::subjects;
use reprint_domain::order_check::{MAX_LINES, OrderError, check_order};
use reprint_domain::protocol::{
    Customer, ImageProfile, PlacedItem, SourceProfile, WELL_KNOWN_PROFILES,
};
use reprint_domain::{Currency, ImageId, PrintSize, SiteId, SiteKind};
use reprint_eventstore::sql::Arg;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::events::ItemRecord;
use crate::state::AppState;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    /// The image id (SHA-256, 64 lowercase hex digits) of an image you uploaded.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub image: String,
    /// A print size code the lab prints: L, 2L, KG, DSC, Hagaki, Square, 4x6, 5x7, 8x10.
    #[schema(min_length = 1, max_length = 16)]
    pub size: String,
    /// Prints of this image (the order check's 1 to 999).
    #[schema(minimum = 1, maximum = 999)]
    #[serde(deserialize_with = "whole_number")]
    pub quantity: u32,
    /// An edit list (JSON), applied at print time: the edited image is a reference plus edits.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub edits: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// The lab's site id, as the site directory has it.
    #[schema(min_length = 1, max_length = 64)]
    pub lab: String,
    /// The delivery counter where the prints are collected and paid.
    #[schema(min_length = 1, max_length = 64)]
    pub counter: String,
    /// At most 500 lines (the order check's limit).
    #[schema(max_items = 500)]
    pub items: Vec<ItemRequest>,
    /// Optional here when the `Idempotency-Key` header is sent.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub idempotency_key: Option<String>,
    /// The lab's digital copy besides the prints (its catalog's `digital-copy:zip`): the
    /// originals with their print history in a ZIP, downloaded once the order is ready.
    #[serde(default)]
    pub digital_copy: bool,
    /// The colour profile of an image without one embedded, by image (`{"image": "<id>",
    /// "profile": {"named": "Adobe RGB (1998)"}}`, or `{"icc": "<base64>"}` of at most 60000 characters):
    /// the lab converts from it instead of taking the image as sRGB. At most one per image of
    /// the order.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub source_profiles: Vec<SourceProfileRequest>,
}

/// The source colour profile of one image of the order (`reprint_domain::protocol::ImageProfile`
/// as a request states it).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceProfileRequest {
    /// The image id (SHA-256, 64 lowercase hex digits) of an image of the order.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub image: String,
    pub profile: ProfileChoice,
}

/// A profile by its name, or the profile itself: `{"named": "Adobe RGB (1998)"}` or
/// `{"icc": "<base64>"}`, one key.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ProfileChoice {
    /// One of the well-known profiles (`reprint_domain::protocol::WELL_KNOWN_PROFILES`), spelt
    /// as listed ([`WellKnownProfile`] in the document); another name is refused by the check,
    /// in its words.
    Named(String),
    /// The `.icc` file itself, base64 (standard alphabet, padded), at most [`MAX_ICC_BASE64`]
    /// characters; an RGB ICC profile.
    Icc(String),
}

/// The longest base64 text of a profile a request carries: what fits in a request body of the
/// default 64 KiB (`http.max_body_bytes`) with the rest of the order, about 44 KiB of profile
/// (a matrix profile is under 4 KiB). The order check's own limit (64 KiB decoded) is for
/// orders that come another way.
pub const MAX_ICC_BASE64: usize = 60_000;

impl utoipa::PartialSchema for ProfileChoice {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type,
        };
        use utoipa::openapi::{Ref, RefOr};
        let one_key = |key: &str, value: RefOr<Schema>, what: &str| {
            ObjectBuilder::new()
                .property(key, value)
                .required(key)
                .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
                .description(Some(what))
        };
        let icc = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Za-z0-9+/]*={0,2}$"))
            .max_length(Some(MAX_ICC_BASE64));
        OneOfBuilder::new()
            .item(one_key(
                "named",
                Ref::from_schema_name("WellKnownProfile").into(),
                "one of the well-known profiles, spelt as listed",
            ))
            .item(one_key(
                "icc",
                icc.into(),
                "the .icc file itself, base64 (standard alphabet, padded), at most 60000 characters (about 44 KiB): an RGB ICC profile",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ProfileChoice {}

/// The profiles an order may name (`reprint_domain::protocol::WELL_KNOWN_PROFILES`), for the
/// document.
#[derive(Debug, Clone, Copy, serde::Serialize, ToSchema)]
pub enum WellKnownProfile {
    #[serde(rename = "sRGB")]
    Srgb,
    #[serde(rename = "Adobe RGB (1998)")]
    AdobeRgb1998,
    #[serde(rename = "Display P3")]
    DisplayP3,
}

impl SourceProfileRequest {
    /// The profile as an order carries it, or the refusal in words (422).
    pub fn to_profile(&self, place: usize) -> AppResult<ImageProfile> {
        let image = ImageId::parse(&self.image).map_err(|_| {
            AppError::Unprocessable(format!(
                "source profile {place}: {:?} is not an image id (64 lowercase hex digits)",
                self.image.chars().take(80).collect::<String>()
            ))
        })?;
        let profile = match &self.profile {
            ProfileChoice::Named(n) if WELL_KNOWN_PROFILES.contains(&n.as_str()) => {
                SourceProfile::Named(n.clone())
            }
            ProfileChoice::Named(n) => {
                let asked = SourceProfile::Named(n.clone());
                let why = match asked.well_known() {
                    // The document lists the names as they are spelt: so does the door.
                    Some(k) => format!(
                        "colour profile {:?}: spell it {k:?}",
                        n.chars().take(64).collect::<String>()
                    ),
                    None => asked.check().err().unwrap_or_default(),
                };
                return Err(AppError::Unprocessable(format!(
                    "source profile {place}: {why}"
                )));
            }
            ProfileChoice::Icc(b64) if b64.trim() != b64 => {
                return Err(AppError::Unprocessable(format!(
                    "source profile {place}: the colour profile is not base64: spaces at its ends"
                )));
            }
            ProfileChoice::Icc(b64) if b64.len() > MAX_ICC_BASE64 => {
                return Err(AppError::Unprocessable(format!(
                    "source profile {place}: the colour profile is {} base64 characters; a request carries at most {MAX_ICC_BASE64} (about 44 KiB)",
                    b64.len()
                )));
            }
            ProfileChoice::Icc(b64) => SourceProfile::Icc(b64.clone()),
        };
        Ok(ImageProfile { image, profile })
    }
}

/// The request's source profiles as an order carries them, checked with the order's lines
/// (`reprint_domain::protocol::check_source_profiles`: an image of the order, once each, an RGB
/// ICC profile within the sizes); refused in words (422).
pub(super) fn source_profiles(
    req: &[SourceProfileRequest],
    placed: &[PlacedItem],
) -> AppResult<Vec<ImageProfile>> {
    let profiles = req
        .iter()
        .enumerate()
        .map(|(i, p)| p.to_profile(i + 1))
        .collect::<AppResult<Vec<_>>>()?;
    reprint_domain::protocol::check_source_profiles(&profiles, placed)
        .map_err(AppError::Unprocessable)?;
    Ok(profiles)
}

/// A whole number as JSON may write it: `3`, or `3.0` (an integer to JSON Schema and to most
/// clients' number types); a fraction, a negative number or one too large for `T` is refused.
pub(super) fn whole_number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    use serde::de::Error;
    let v = serde_json::Number::deserialize(d)?;
    let n = match (v.as_u64(), v.as_f64()) {
        (Some(n), _) => n,
        // Below 2^64 and whole: exact as u64.
        (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0 => {
            f as u64
        }
        _ => {
            return Err(D::Error::custom(format!(
                "{v} is not a whole number of 0 or more"
            )));
        }
    };
    T::try_from(n).map_err(|_| D::Error::custom(format!("{n} is too large")))
}

pub(super) struct Checked {
    pub(super) lab: SiteId,
    pub(super) counter: SiteId,
    pub(super) currency: Currency,
    pub(super) items: Vec<ItemRecord>,
    pub(super) placed_items: Vec<PlacedItem>,
    /// The user as the lab knows them (with the lab's registration number, when it gave one).
    pub(super) customer: Customer,
    /// The user's registration number at the delivery counter, when it gave one.
    pub(super) at_counter: Option<String>,
    /// The request's source profiles, checked (`reprint_domain::protocol::check_source_profiles`).
    pub(super) source_profiles: Vec<ImageProfile>,
}

/// A site of the directory of the kind asked: its id, its currency and the print sizes it
/// announces.
async fn directory_site(
    state: &AppState,
    id: &str,
    kind: SiteKind,
) -> AppResult<(SiteId, String, Vec<PrintSize>)> {
    let sid = SiteId::parse(id).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let bid = subjects::SiteId::parse(id).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let entry = state.directory.get(&bid).await?;
    let want = match kind {
        SiteKind::Lab => subjects::SiteKind::Lab,
        SiteKind::Counter => subjects::SiteKind::Counter,
    };
    match entry {
        Some(e) if e.site.kind == want => {
            let sizes = e
                .site
                .sizes
                .iter()
                .filter_map(|s| PrintSize::parse(s).ok())
                .collect();
            Ok((sid, e.site.currency, sizes))
        }
        _ => Err(AppError::Unprocessable(format!(
            "{id} is not a {kind} of the site directory"
        ))),
    }
}

/// The one order check (`reprint_domain::check_order`) at the gateway's door, for a quote, a
/// submission and a re-order: the sizes the lab announces in the site directory, quantities,
/// edit lists, the customer. Refused in the lab's own words, before anything is sent to it.
pub(super) async fn check_order_request(
    state: &AppState,
    user: &User,
    lab: &str,
    counter: &str,
    items: &[ItemRequest],
) -> AppResult<Checked> {
    if items.len() > MAX_LINES {
        return Err(OrderError::TooManyLines { count: items.len() }.into());
    }
    let (lab, currency, sizes) = directory_site(state, lab, SiteKind::Lab).await?;
    let (counter, _, _) = directory_site(state, counter, SiteKind::Counter).await?;
    let currency = Currency::parse(&currency)
        .map_err(|e| AppError::Unavailable(format!("the lab announces a bad currency: {e}")))?;
    let known = images_of(state, &user.id, items).await?;
    let mut records = Vec::new();
    let mut placed = Vec::new();
    for it in items {
        let image = ImageId::parse(&it.image)
            .map_err(|_| AppError::NotFound(format!("image {}", it.image)))?;
        let size = PrintSize::parse(&it.size)?;
        let edits = match &it.edits {
            None | Some(Value::Null) => None,
            Some(v) => {
                let s = v.to_string();
                if s.len() > 16 * 1024 {
                    return Err(AppError::Unprocessable("edit list over 16 KiB".into()));
                }
                Some(s)
            }
        };
        let (name, phash) = known
            .get(&image.to_hex())
            .cloned()
            .ok_or_else(|| AppError::NotFound(format!("image {}", it.image)))?;
        let phash = phash.and_then(|h| u64::from_str_radix(&h, 16).ok());
        records.push(ItemRecord {
            image: image.to_hex(),
            name: name.clone(),
            size: size.code().to_string(),
            quantity: it.quantity,
            edits: edits.clone(),
        });
        placed.push(PlacedItem {
            image,
            name,
            size,
            quantity: it.quantity,
            edits,
            perceptual_hash: phash,
            history: vec![],
        });
    }
    let (customer, at_counter) =
        customer_at(state, &user.id, lab.as_str(), counter.as_str()).await?;
    check_order(&customer, &placed, &sizes)?;
    Ok(Checked {
        lab,
        counter,
        currency,
        items: records,
        placed_items: placed,
        source_profiles: Vec::new(),
        customer,
        at_counter,
    })
}

/// Lines an order request may have whose images are read in one statement.
const IMAGES_PER_READ: usize = 100;

/// The name and perceptual hash of each of the account's images the items name (image id ->
/// them), read a hundred at a time instead of one statement per line; images the account does
/// not have are missing from the map.
async fn images_of(
    state: &AppState,
    account: &str,
    items: &[ItemRequest],
) -> AppResult<std::collections::HashMap<String, (String, Option<String>)>> {
    let mut ids: Vec<String> = items
        .iter()
        .filter_map(|it| ImageId::parse(&it.image).ok())
        .map(|i| i.to_hex())
        .collect();
    ids.sort();
    ids.dedup();
    let mut known = std::collections::HashMap::new();
    for chunk in ids.chunks(IMAGES_PER_READ) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let mut args = vec![Arg::Text(account.to_string())];
        args.extend(chunk.iter().map(|id| Arg::Text(id.clone())));
        let rows: Vec<(String, String, Option<String>)> = db::fetch(
            &state.store,
            &format!(
                "SELECT image, name, phash FROM gw_images WHERE account = $1 AND image IN ({})",
                marks.join(", ")
            ),
            &args,
        )
        .await?;
        known.extend(
            rows.into_iter()
                .map(|(id, name, phash)| (id, (name, phash))),
        );
    }
    Ok(known)
}

/// The source colour profiles an earlier order gave its images (`Submitted::source_profiles_json`),
/// for those of `placed` (a re-order or a send-on of some of its images carries theirs).
pub(super) fn carried_profiles(
    prev: &reprint_domain::web_order::Submitted,
    placed: &[PlacedItem],
) -> Vec<ImageProfile> {
    let Some(json) = prev.source_profiles_json.as_deref() else {
        return Vec::new();
    };
    match serde_json::from_str::<Vec<ImageProfile>>(json) {
        Ok(profiles) => profiles
            .into_iter()
            .filter(|p| placed.iter().any(|i| i.image == p.image))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "an order's stored source profiles do not read");
            Vec::new()
        }
    }
}

/// The command that keeps an order's source profiles with it (none when it has none).
pub(super) fn give_profiles(
    profiles: &[ImageProfile],
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<Option<reprint_domain::web_order::Command>> {
    if profiles.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        reprint_domain::web_order::Command::GiveSourceProfiles {
            profiles_json: serde_json::to_string(profiles)
                .map_err(|e| AppError::Unavailable(format!("source profiles: {e}")))?,
            at,
        },
    ))
}

/// The user as the lab knows them (their registration number at `lab`, when it gave one) and
/// their registration number at `counter`, in one statement.
pub(super) async fn customer_at(
    state: &AppState,
    account: &str,
    lab: &str,
    counter: &str,
) -> AppResult<(Customer, Option<String>)> {
    let (name, telephone, address, email, registration_number, at_counter): (
        String,
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    ) = db::fetch_one(
        &state.store,
        "SELECT a.name, a.telephone, a.address, a.email, r.number, c.number FROM gw_accounts a
         LEFT JOIN gw_registrations r ON r.account = a.id AND r.site = $2
         LEFT JOIN gw_registrations c ON c.account = a.id AND c.site = $3 WHERE a.id = $1",
        &[
            Arg::Text(account.to_string()),
            Arg::Text(lab.to_string()),
            Arg::Text(counter.to_string()),
        ],
    )
    .await?
    .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
    let customer = Customer {
        name,
        telephone,
        address,
        email: Some(email),
        registration_number,
    };
    Ok((customer, at_counter))
}

impl Checked {
    /// The user as the delivery counter knows them (its registration number).
    pub(super) fn counter_customer(&self) -> Customer {
        Customer {
            registration_number: self.at_counter.clone(),
            ..self.customer.clone()
        }
    }
}

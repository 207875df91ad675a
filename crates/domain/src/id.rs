//! Identifiers: sites, orders and images.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

use crate::DomainError;

/// A site of the network: a lab or a counter. A lowercase slug, 2 to 32 characters of
/// `a-z`, `0-9` and `-`, starting with a letter, not ending with `-` (it is also a NATS subject
/// token, so no `.`, `*`, `>` or spaces can ever appear in it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteId(String);

impl SiteId {
    pub fn parse(s: &str) -> Result<SiteId, DomainError> {
        let ok_len = (2..=32).contains(&s.len());
        let ok_first = s.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let ok_last = !s.ends_with('-');
        if ok_len && ok_first && ok_chars && ok_last {
            Ok(SiteId(s.to_string()))
        } else {
            Err(DomainError::invalid(
                "site id",
                s,
                "2 to 32 characters of a-z, 0-9 and '-', starting with a letter",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SiteId {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SiteId::parse(&s)
    }
}

impl From<SiteId> for String {
    fn from(s: SiteId) -> String {
        s.0
    }
}

impl FromStr for SiteId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SiteId::parse(s)
    }
}

/// What a site is: the seed's laboratory, or a reception/delivery counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteKind {
    Lab,
    Counter,
}

impl fmt::Display for SiteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SiteKind::Lab => "lab",
            SiteKind::Counter => "counter",
        })
    }
}

/// An order, network-wide: a UUID v7 (time-ordered). Made at the edge, where the clock and the
/// random source are: [`OrderId::from_parts`] takes both as arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(uuid::Uuid);

impl OrderId {
    /// A v7 id from a Unix time in milliseconds and 10 random bytes.
    pub fn from_parts(unix_millis: u64, random: [u8; 10]) -> OrderId {
        OrderId(uuid::Builder::from_unix_timestamp_millis(unix_millis, &random).into_uuid())
    }

    /// Accepts only version 7 UUIDs.
    pub fn parse(s: &str) -> Result<OrderId, DomainError> {
        let u =
            uuid::Uuid::parse_str(s).map_err(|_| DomainError::invalid("order id", s, "a UUID"))?;
        Self::from_uuid(u)
    }

    pub fn from_uuid(u: uuid::Uuid) -> Result<OrderId, DomainError> {
        if u.get_version_num() == 7 {
            Ok(OrderId(u))
        } else {
            Err(DomainError::invalid(
                "order id",
                &u.to_string(),
                "a version 7 UUID",
            ))
        }
    }

    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An image: the SHA-256 of its bytes. The same bytes are the same image wherever they are
/// uploaded; a renamed file is still the same image. (Recognising a re-encoded copy of the same
/// photo is the perceptual hash's job, in `reprint-media`.)
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageId([u8; 32]);

impl ImageId {
    pub fn of_bytes(bytes: &[u8]) -> ImageId {
        ImageId(Sha256::digest(bytes).into())
    }

    pub fn from_digest(digest: [u8; 32]) -> ImageId {
        ImageId(digest)
    }

    /// 64 lowercase hex digits.
    pub fn parse(s: &str) -> Result<ImageId, DomainError> {
        let mut out = [0u8; 32];
        if s.len() != 64
            || hex::decode_to_slice(s, &mut out).is_err()
            || s.chars().any(|c| c.is_ascii_uppercase())
        {
            return Err(DomainError::invalid(
                "image id",
                s,
                "64 lowercase hex digits (SHA-256)",
            ));
        }
        Ok(ImageId(out))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 12 hex digits, for people.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl fmt::Debug for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageId({})", self.short())
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for ImageId {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ImageId::parse(&s)
    }
}

impl From<ImageId> for String {
    fn from(i: ImageId) -> String {
        i.to_hex()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_ids_are_slugs() {
        assert!(SiteId::parse("lab-tokyo").is_ok());
        assert!(SiteId::parse("c7").is_ok());
        for bad in [
            "",
            "a",
            "Lab",
            "lab.tokyo",
            "lab*",
            "lab>",
            "lab tokyo",
            "7lab",
            "lab-",
            &"x".repeat(33),
        ] {
            let err = SiteId::parse(bad).unwrap_err().to_string();
            assert!(err.contains("site id"), "{err}");
        }
    }

    #[test]
    fn order_ids_are_v7_and_time_ordered() {
        let a = OrderId::from_parts(1_700_000_000_000, [1; 10]);
        let b = OrderId::from_parts(1_700_000_000_001, [0; 10]);
        assert!(a < b);
        assert_eq!(OrderId::parse(&a.to_string()).unwrap(), a);
        assert!(
            OrderId::parse("67e55044-10b1-426f-9247-bb680e5fe0c8").is_err(),
            "v4 refused"
        );
    }

    #[test]
    fn image_id_is_sha256_of_bytes() {
        let id = ImageId::of_bytes(b"abc");
        assert_eq!(
            id.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ImageId::parse(&id.to_hex()).unwrap(), id);
        assert!(ImageId::parse("zz").is_err());
        assert!(ImageId::parse(&id.to_hex().to_uppercase()).is_err());
    }
}

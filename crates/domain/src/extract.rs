//! What one site sends another of its individual user file (seed 004: "it is enough to send
//! items concerning to one reception No. together with data identifying the user ... but it
//! might be better to send entire individual user file ... if the counter is affiliated").
//!
//! Personal data leaves a site only as much as the receiving site needs, unless the two sites
//! have a data-sharing agreement.

use serde::{Deserialize, Serialize};

use crate::delivery_counter::OtherCounter;
use crate::file::{Reception, UserFile};
use crate::{ReceptionNumber, RegistrationNumber, SiteId, SiteKind, Telephone};

/// How much of the file goes to the other site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sharing {
    /// The one reception plus the data identifying the user (name, telephone, this site's
    /// registration number).
    ReceptionOnly,
    /// The whole file (an affiliated site with a data-sharing agreement).
    WholeFile,
}

/// A site's extract of its file, for another site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileExtract {
    pub from_site: SiteId,
    pub from_kind: SiteKind,
    pub registration_number: RegistrationNumber,
    pub name: String,
    pub telephone: Telephone,
    /// Only with [`Sharing::WholeFile`].
    pub address: Option<String>,
    /// Only with [`Sharing::WholeFile`].
    pub email: Option<String>,
    pub reception: Reception,
    /// The other receptions of the file, only with [`Sharing::WholeFile`].
    pub other_receptions: Vec<Reception>,
    /// The reception's one more item (`crate::delivery_counter`): at the lab, the counter that
    /// took a walk-in order in when another counter delivers it. Absent in older messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_counter: Option<OtherCounter>,
}

/// The extract of `file` for reception `number`, or `None` when the file is not registered or
/// has no such reception.
pub fn extract(
    file: &UserFile,
    from_site: &SiteId,
    from_kind: SiteKind,
    number: &ReceptionNumber,
    sharing: Sharing,
) -> Option<FileExtract> {
    let user = file.user.as_ref()?;
    let reception = file.reception(number)?.clone();
    let whole = sharing == Sharing::WholeFile;
    Some(FileExtract {
        from_site: from_site.clone(),
        from_kind,
        registration_number: user.registration_number.clone(),
        name: user.name.clone(),
        telephone: user.telephone.clone(),
        address: if whole { user.address.clone() } else { None },
        email: if whole { user.email.clone() } else { None },
        reception,
        other_receptions: if whole {
            file.receptions
                .iter()
                .filter(|r| &r.number != number)
                .cloned()
                .collect()
        } else {
            Vec::new()
        },
        other_counter: file.other_counter(number).cloned(),
    })
}

//! A site's individual user files (seed 004, Figs. 6 to 9) on the event store, shared by the
//! lab and the counter: both keep a file per user under their own registration numbers, open
//! receptions under their own reception numbers, and charge by their own rules.
//!
//! - One stream per file: `user-file-<registration number>`; the domain's `decide`/`evolve`
//!   run on it, with a snapshot every [`SNAPSHOT_EVERY`] events for long files.
//! - Numbers are gap-free: a sequence stream per kind (`sequence-registration`,
//!   `sequence-reception`) whose version *is* the last number issued, appended with an exact
//!   expected version in the same transaction as the file that uses the number.
//! - An inline projection ([`UserIndex`]) keeps the lookups a request needs at once: file by
//!   registration number or by name plus telephone (unique: two files for one person cannot be
//!   made by two concurrent orders), reception by reception number or order id.
//!
//! Every function takes the caller's [`Transaction`], so a consumer can record its inbox, open
//! a reception and write its outbox in one unit of work.

pub mod command;
pub mod index;
mod stored;

use chrono::{DateTime, Utc};
use reprint_domain::file::{self, Command, OpenReception, UserFile};
use reprint_domain::sequence::{self, SequenceKind};
use reprint_domain::{DomainError, ReceptionNumber, RegistrationNumber, SiteRules, Telephone};
use reprint_eventstore::{ExpectedVersion, Snapshot, Transaction, codec};

pub use index::{ReceptionRow, UserIndex, UserRow};
pub use stored::{FileEvent, SequenceEvent};

/// A file's events since its last snapshot before a new snapshot is written.
pub const SNAPSHOT_EVERY: u64 = 64;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The domain refused the command (a client's or an operator's mistake).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The store (conflicts included: the caller retries the unit of work).
    #[error(transparent)]
    Store(#[from] reprint_eventstore::Error),
}

impl SiteError {
    /// Whether running the whole unit of work again may succeed (a version conflict, or a
    /// concurrent duplicate).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SiteError::Store(e) if e.is_retryable())
    }
}

pub type Result<T> = std::result::Result<T, SiteError>;

/// How a customer is identified at a site: "registration number when they have one, otherwise
/// name plus telephone".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub registration_number: Option<String>,
    pub name: String,
    pub telephone: Telephone,
    pub address: Option<String>,
    pub email: Option<String>,
}

impl Identity {
    /// The identity a sender gave with an order or a quote request: the name must not be
    /// empty and the telephone must be a telephone number.
    pub fn from_customer(
        customer: &reprint_domain::protocol::Customer,
    ) -> std::result::Result<Identity, DomainError> {
        let name = file::tidy_name(&customer.name);
        if name.is_empty() {
            return Err(DomainError::invalid(
                "name",
                &customer.name,
                "the customer's name",
            ));
        }
        Ok(Identity {
            registration_number: customer.registration_number.clone(),
            name,
            telephone: Telephone::parse(&customer.telephone)?,
            address: customer.address.clone(),
            email: customer.email.clone(),
        })
    }
}

/// A file as loaded, with the version to append after.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedFile {
    pub registration_number: RegistrationNumber,
    pub file: UserFile,
    pub version: u64,
}

pub fn user_file_stream(number: &RegistrationNumber) -> String {
    format!("user-file-{number}")
}

pub fn sequence_stream(kind: SequenceKind) -> String {
    format!("sequence-{}", kind.as_str())
}

/// A site's files, by its rules.
#[derive(Debug, Clone)]
pub struct SiteFiles {
    pub rules: SiteRules,
}

impl SiteFiles {
    pub fn new(rules: SiteRules) -> SiteFiles {
        SiteFiles { rules }
    }

    /// Issues the next number of a kind (gap-free: the sequence stream's version is the last
    /// number; a concurrent issue is a version conflict and the unit of work is retried).
    pub async fn issue_number(
        &self,
        tx: &mut Transaction,
        kind: SequenceKind,
    ) -> Result<(u64, String)> {
        let stream = sequence_stream(kind);
        let last = tx.stream_version(&stream).await?;
        let format = match kind {
            SequenceKind::Registration => self.rules.registration_number.clone(),
            SequenceKind::Reception => self.rules.reception_number.clone(),
        };
        let events = sequence::decide(
            &sequence::Sequence { last },
            sequence::Command::Issue { format },
        )?;
        let stored: Vec<_> = events
            .iter()
            .map(|e| stored::new_event(&SequenceEvent(e.clone())))
            .collect::<std::result::Result<_, _>>()?;
        tx.append(&stream, ExpectedVersion::after(last), &stored)
            .await?;
        match events.into_iter().next() {
            Some(sequence::Event::Issued { seq, number }) => Ok((seq, number)),
            None => Err(SiteError::Domain(DomainError::invalid(
                "sequence",
                &stream,
                "an issued number",
            ))),
        }
    }

    /// Loads a file (from its latest snapshot and the events after it).
    pub async fn load(
        &self,
        tx: &mut Transaction,
        number: &RegistrationNumber,
    ) -> Result<LoadedFile> {
        let stream = user_file_stream(number);
        let (mut file, mut version) = match tx.load_snapshot(&stream).await? {
            Some(s) if s.schema_version == stored::FILE_SNAPSHOT_VERSION => {
                match codec::from_postcard::<UserFile>(&s.payload) {
                    Ok(f) => (f, s.version),
                    Err(_) => (UserFile::default(), 0),
                }
            }
            _ => (UserFile::default(), 0),
        };
        loop {
            let batch = tx.read_stream(&stream, version + 1, 512).await?;
            if batch.is_empty() {
                break;
            }
            for e in &batch {
                let FileEvent(event) = e
                    .decode::<FileEvent>()
                    .map_err(reprint_eventstore::Error::from)?;
                file = file::evolve(file, &event);
                version = e.version;
            }
        }
        Ok(LoadedFile {
            registration_number: number.clone(),
            file,
            version,
        })
    }

    /// Runs a command on a loaded file: decide, append with the expected version, evolve.
    /// Returns the events (none when the command changed nothing, e.g. a redelivered order).
    pub async fn execute(
        &self,
        tx: &mut Transaction,
        loaded: &mut LoadedFile,
        command: Command,
    ) -> Result<Vec<file::Event>> {
        let events = file::decide(&loaded.file, command)?;
        if events.is_empty() {
            return Ok(events);
        }
        let stored: Vec<_> = events
            .iter()
            .map(|e| stored::new_event(&FileEvent(e.clone())))
            .collect::<std::result::Result<_, _>>()?;
        let stream = user_file_stream(&loaded.registration_number);
        let result = tx
            .append(&stream, ExpectedVersion::after(loaded.version), &stored)
            .await?;
        for e in &events {
            loaded.file = file::evolve(std::mem::take(&mut loaded.file), e);
        }
        let before = loaded.version;
        loaded.version = result.stream_version;
        if loaded.version / SNAPSHOT_EVERY > before / SNAPSHOT_EVERY {
            let payload =
                codec::to_postcard(&loaded.file).map_err(reprint_eventstore::Error::from)?;
            tx.save_snapshot(
                &stream,
                &Snapshot {
                    version: loaded.version,
                    schema_version: stored::FILE_SNAPSHOT_VERSION,
                    payload,
                },
            )
            .await?;
        }
        Ok(events)
    }

    /// Finds the customer's file (by registration number, checked against the telephone;
    /// else by name plus telephone), or registers them under a new registration number.
    /// Returns the file and whether it was made now.
    pub async fn find_or_register(
        &self,
        tx: &mut Transaction,
        who: &Identity,
        now: DateTime<Utc>,
    ) -> Result<(LoadedFile, bool)> {
        if let Some(found) = self.find(tx, who).await? {
            return Ok((self.load(tx, &found).await?, false));
        }
        let (_, number) = self.issue_number(tx, SequenceKind::Registration).await?;
        let number = RegistrationNumber::parse(&self.rules.registration_number, &number)?;
        let mut loaded = LoadedFile {
            registration_number: number.clone(),
            file: UserFile::default(),
            version: 0,
        };
        self.execute(
            tx,
            &mut loaded,
            Command::Register {
                registration_number: number,
                name: who.name.clone(),
                telephone: who.telephone.clone(),
                address: who.address.clone(),
                email: who.email.clone(),
                at: now,
            },
        )
        .await?;
        Ok((loaded, true))
    }

    /// The registration number of the customer's file here, if they have one.
    pub async fn find(
        &self,
        tx: &mut Transaction,
        who: &Identity,
    ) -> Result<Option<RegistrationNumber>> {
        if let Some(given) = who
            .registration_number
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            && let Ok(number) = RegistrationNumber::parse(&self.rules.registration_number, given)
            && let Some(row) = index::user_by_number(tx, number.as_str()).await?
            && row.telephone == who.telephone.as_str()
        {
            return Ok(Some(number));
        }
        let key = file::normalise_name(&who.name);
        match index::user_by_name_and_telephone(tx, &key, who.telephone.as_str()).await? {
            Some(row) => Ok(Some(RegistrationNumber::parse(
                &self.rules.registration_number,
                &row.registration_number,
            )?)),
            None => Ok(None),
        }
    }

    /// Opens a reception under the next reception number. A redelivered order (same order id)
    /// returns the reception already opened and issues no number.
    pub async fn open_reception(
        &self,
        tx: &mut Transaction,
        loaded: &mut LoadedFile,
        mut open: OpenReception,
    ) -> Result<(file::Reception, bool)> {
        if let Some(r) = loaded.file.reception_for_order(open.order) {
            return Ok((r.clone(), false));
        }
        let (_, number) = self.issue_number(tx, SequenceKind::Reception).await?;
        open.number = ReceptionNumber::parse(&self.rules.reception_number, &number)?;
        open.rules = self.rules.clone();
        let order = open.order;
        self.execute(tx, loaded, Command::OpenReception(Box::new(open)))
            .await?;
        match loaded.file.reception_for_order(order) {
            Some(r) => Ok((r.clone(), true)),
            None => Err(SiteError::Domain(DomainError::invalid(
                "reception",
                &number,
                "an opened reception",
            ))),
        }
    }

    /// What this site would charge for a quote request now, by its own policy and its file of
    /// the customer if it has one. Nothing is written: the caller rolls `tx` back.
    pub async fn quote(
        &self,
        tx: &mut Transaction,
        request: &reprint_domain::protocol::QuoteRequest,
    ) -> Result<reprint_domain::Charge> {
        let who = Identity::from_customer(&request.customer)?;
        let file = match self.find(tx, &who).await? {
            Some(number) => self.load(tx, &number).await?.file,
            None => UserFile::default(),
        };
        let items = reprint_domain::protocol::order_items(&request.items);
        let evidence: Vec<_> = request
            .items
            .iter()
            .flat_map(|i| i.history.iter().cloned())
            .collect();
        Ok(reprint_domain::determine_charge(
            &self.rules,
            &file,
            &items,
            &evidence,
            request.at,
        )?)
    }

    /// The file and reception of a reception number of this site.
    pub async fn by_reception(
        &self,
        tx: &mut Transaction,
        number: &ReceptionNumber,
    ) -> Result<Option<(LoadedFile, file::Reception)>> {
        let Some(row) = index::reception_by_number(tx, number.as_str()).await? else {
            return Ok(None);
        };
        self.loaded_reception(tx, &row).await
    }

    /// The file and reception of an order at this site.
    pub async fn by_order(
        &self,
        tx: &mut Transaction,
        order: reprint_domain::OrderId,
    ) -> Result<Option<(LoadedFile, file::Reception)>> {
        let Some(row) = index::reception_by_order(tx, &order.to_string()).await? else {
            return Ok(None);
        };
        self.loaded_reception(tx, &row).await
    }

    async fn loaded_reception(
        &self,
        tx: &mut Transaction,
        row: &ReceptionRow,
    ) -> Result<Option<(LoadedFile, file::Reception)>> {
        let number =
            RegistrationNumber::parse(&self.rules.registration_number, &row.registration_number)?;
        let loaded = self.load(tx, &number).await?;
        let reception = loaded
            .file
            .receptions
            .iter()
            .find(|r| r.number.as_str() == row.reception_number)
            .cloned();
        Ok(reception.map(|r| (loaded, r)))
    }
}

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
//!   registration number or by name plus telephone, reception by reception number or order id.
//!   Two concurrent registrations cannot both commit (each issues the next registration number:
//!   the second is a version conflict, retried, and then finds the first's file in person).
//!
//! # Identity at a site
//!
//! The seed's lab finds the user's **individual user file** by the **registration number** the
//! user sends (seed 004, Fig. 1, S304). How a customer may be identified depends on where they
//! are, decided purely by [`Identification`] from the order's route and sender:
//!
//! - **From afar** (an order or a quote over the internet, and a web order's delivery at its
//!   counter): by the registration number only, the one the gateway holds for the account at
//!   this site (learnt from the lab's slip, or the counter's `ready_for_pickup` status;
//!   `gw_registrations`). A web order without one, or with one that is no file here (or one
//!   whose file has another telephone), is a **new** user here and gets a new file: a name and
//!   telephone typed on the web prove nothing, so they never open someone else's file or
//!   reveal its dates (not in a quote either).
//! - **In person** (a medium handed in at a counter and forwarded by that counter, Fig. 2): by
//!   registration number, else by name plus telephone, which counter staff confirm with the
//!   customer in front of them.
//!
//! Every function takes the caller's [`Transaction`], so a consumer can record its inbox, open
//! a reception and write its outbox in one unit of work.

pub mod command;
pub mod index;
mod stored;

use chrono::{DateTime, Utc};
use reprint_domain::file::{self, Command, OpenReception, Route, UserFile};
use reprint_domain::number::NumberFormat;
use reprint_domain::protocol::Sender;
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

/// How a site may find a customer's individual user file (see the crate documentation,
/// "Identity at a site"). Decided purely from what the message says; [`Identification::lookups`]
/// turns it into the lookups to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identification {
    /// From afar: only by the registration number the user sends (S304). Nothing else finds a
    /// file; without a registration number of an existing file the user is new here.
    RegistrationNumber,
    /// In person, with staff confirming: by registration number, else by name plus telephone.
    InPerson,
}

/// One lookup of a customer's file in the site's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The file with this registration number, if its telephone is the customer's.
    Number {
        number: RegistrationNumber,
        telephone: Telephone,
    },
    /// The file of this (normalised) name and telephone.
    NameAndTelephone {
        name_key: String,
        telephone: Telephone,
    },
}

impl Identification {
    /// For an order: in person only for a medium handed in at a counter (route
    /// `counter_medium`) that the counter itself forwards; everything else (the internet
    /// route, or anything a gateway sends) comes from afar.
    pub fn of_order(route: Route, sender: &Sender) -> Identification {
        match (route, sender) {
            (Route::CounterMedium, Sender::Counter(_)) => Identification::InPerson,
            _ => Identification::RegistrationNumber,
        }
    }

    /// For a quote: asked over the network (today by the gateway, for a web user), with nobody
    /// in front of staff, so from afar. A quote is read only, but what it charges tells whether
    /// and when the file's owner ordered: it must not be an oracle for a name and telephone.
    pub fn of_quote() -> Identification {
        Identification::RegistrationNumber
    }

    /// For an internet order's delivery at its counter (Fig. 1 step 4): the counter completes
    /// the user's registration when the parcel arrives, with nobody in front of staff, from
    /// what the web sent; so from afar, by the registration number the order's sender holds
    /// for this counter (`DeliveryDispatched::counter_registration_number`). A counter's own
    /// walk-in order is found by its reception, never by the customer.
    pub fn of_delivery() -> Identification {
        Identification::RegistrationNumber
    }

    /// The lookups to run, in order, for `who` at a site whose registration numbers have
    /// `format`; the first that finds a file wins, none means a new customer. A registration
    /// number that is not one of this site's (another format, garbage) is no lookup.
    pub fn lookups(self, who: &Identity, format: &NumberFormat) -> Vec<Lookup> {
        let mut out = Vec::new();
        if let Some(number) = who
            .registration_number
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| RegistrationNumber::parse(format, s).ok())
        {
            out.push(Lookup::Number {
                number,
                telephone: who.telephone.clone(),
            });
        }
        if self == Identification::InPerson {
            out.push(Lookup::NameAndTelephone {
                name_key: file::normalise_name(&who.name),
                telephone: who.telephone.clone(),
            });
        }
        out
    }
}

/// What a registration number typed with a telephone says against the file it names (issue
/// 15): staff are asked before a number whose file has another telephone is either used or
/// passed over for a new registration; nothing is ever registered silently in its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberCheck {
    /// No number, not one of this site's, or no file under it: nothing to ask.
    Nothing,
    /// The number's file has this telephone.
    Matches,
    /// The number's file is someone's with another telephone: ask staff whether it is the
    /// same person.
    OtherTelephone {
        number: String,
        name: String,
        telephone_on_file: String,
        telephone_given: String,
    },
}

impl NumberCheck {
    /// Decides purely from the telephone given and the file found under the number (if any).
    pub fn of(given: &Telephone, on_file: Option<&UserRow>) -> NumberCheck {
        match on_file {
            None => NumberCheck::Nothing,
            Some(row) if row.telephone == given.as_str() => NumberCheck::Matches,
            Some(row) => NumberCheck::OtherTelephone {
                number: row.registration_number.clone(),
                name: row.name.clone(),
                telephone_on_file: row.telephone.clone(),
                telephone_given: given.as_str().to_string(),
            },
        }
    }
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
            for e in &batch {
                let FileEvent(event) = e
                    .decode::<FileEvent>()
                    .map_err(reprint_eventstore::Error::from)?;
                file = file::evolve(file, &event);
                version = e.version;
            }
            // A short batch is the end of the stream (no second statement to find it empty).
            if batch.len() < 512 {
                break;
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

    /// Finds the customer's file in person (by registration number, checked against the
    /// telephone; else by name plus telephone, which staff confirm), or registers them under a
    /// new registration number. Returns the file and whether it was made now. For a customer
    /// from afar use [`SiteFiles::find_or_register_as`].
    pub async fn find_or_register(
        &self,
        tx: &mut Transaction,
        who: &Identity,
        now: DateTime<Utc>,
    ) -> Result<(LoadedFile, bool)> {
        self.find_or_register_as(tx, who, Identification::InPerson, now)
            .await
    }

    /// Finds the customer's file as `how` allows, or registers them under a new registration
    /// number. Returns the file and whether it was made now.
    pub async fn find_or_register_as(
        &self,
        tx: &mut Transaction,
        who: &Identity,
        how: Identification,
        now: DateTime<Utc>,
    ) -> Result<(LoadedFile, bool)> {
        if let Some(found) = self.find_as(tx, who, how).await? {
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

    /// The registration number of the customer's file here, found in person, if they have
    /// one (see [`SiteFiles::find_as`]).
    pub async fn find(
        &self,
        tx: &mut Transaction,
        who: &Identity,
    ) -> Result<Option<RegistrationNumber>> {
        self.find_as(tx, who, Identification::InPerson).await
    }

    /// The registration number of the customer's file here, found as `how` allows
    /// ([`Identification::lookups`]), if they have one.
    pub async fn find_as(
        &self,
        tx: &mut Transaction,
        who: &Identity,
        how: Identification,
    ) -> Result<Option<RegistrationNumber>> {
        for lookup in how.lookups(who, &self.rules.registration_number) {
            match lookup {
                Lookup::Number { number, telephone } => {
                    if let Some(row) = index::user_by_number(tx, number.as_str()).await?
                        && row.telephone == telephone.as_str()
                    {
                        return Ok(Some(number));
                    }
                }
                Lookup::NameAndTelephone {
                    name_key,
                    telephone,
                } => {
                    if let Some(row) =
                        index::user_by_name_and_telephone(tx, &name_key, telephone.as_str()).await?
                    {
                        return Ok(Some(RegistrationNumber::parse(
                            &self.rules.registration_number,
                            &row.registration_number,
                        )?));
                    }
                }
            }
        }
        Ok(None)
    }

    /// The registration number `who` gave, checked against its file's telephone
    /// ([`NumberCheck::of`]). Read only.
    pub async fn check_number(&self, tx: &mut Transaction, who: &Identity) -> Result<NumberCheck> {
        let Some(number) = who
            .registration_number
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| RegistrationNumber::parse(&self.rules.registration_number, s).ok())
        else {
            return Ok(NumberCheck::Nothing);
        };
        let row = index::user_by_number(tx, number.as_str()).await?;
        Ok(NumberCheck::of(&who.telephone, row.as_ref()))
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
    /// the customer (found in person) if it has one. Nothing is written: the caller rolls `tx`
    /// back. A quote asked over the network (the lab's and the counter's `rpc.<site>.quote`)
    /// uses [`SiteFiles::quote_as`] with [`Identification::of_quote`] instead.
    pub async fn quote(
        &self,
        tx: &mut Transaction,
        request: &reprint_domain::protocol::QuoteRequest,
    ) -> Result<reprint_domain::Charge> {
        self.quote_as(tx, request, Identification::InPerson).await
    }

    /// As [`SiteFiles::quote`], finding the file as `how` allows (a quote over the network:
    /// [`Identification::of_quote`]).
    pub async fn quote_as(
        &self,
        tx: &mut Transaction,
        request: &reprint_domain::protocol::QuoteRequest,
        how: Identification,
    ) -> Result<reprint_domain::Charge> {
        let who = Identity::from_customer(&request.customer)?;
        let file = match self.find_as(tx, &who, how).await? {
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

#[cfg(test)]
mod tests {
    use super::*;
    use reprint_domain::{SiteId, SiteRules};

    fn who(registration_number: Option<&str>) -> Identity {
        Identity {
            registration_number: registration_number.map(str::to_string),
            name: "Hanako  Yamada".into(),
            telephone: Telephone::parse("03-1234-5678").unwrap(),
            address: None,
            email: None,
        }
    }

    fn format() -> NumberFormat {
        SiteRules::demo_lab(SiteId::parse("lab-a").unwrap()).registration_number
    }

    fn site(s: &str) -> SiteId {
        SiteId::parse(s).unwrap()
    }

    #[test]
    fn a_number_with_another_telephone_asks_instead_of_registering() {
        let row = UserRow {
            registration_number: "W0000001".into(),
            name: "Hanako Yamada".into(),
            telephone: "0312345678".into(),
        };
        let on_file = Telephone::parse("03-1234-5678").unwrap();
        let other = Telephone::parse("090-0000-1111").unwrap();
        assert_eq!(NumberCheck::of(&on_file, None), NumberCheck::Nothing);
        let same = UserRow {
            telephone: on_file.as_str().to_string(),
            ..row.clone()
        };
        assert_eq!(NumberCheck::of(&on_file, Some(&same)), NumberCheck::Matches);
        match NumberCheck::of(&other, Some(&same)) {
            NumberCheck::OtherTelephone {
                number,
                name,
                telephone_on_file,
                telephone_given,
            } => {
                assert_eq!(number, "W0000001");
                assert_eq!(name, "Hanako Yamada");
                assert_eq!(telephone_on_file, on_file.as_str());
                assert_eq!(telephone_given, other.as_str());
            }
            asked => panic!("another telephone must ask staff: {asked:?}"),
        }
    }

    #[test]
    fn only_a_counters_walk_in_is_identified_in_person() {
        let counter = Sender::Counter(site("counter-ginza"));
        let gateway = Sender::Gateway(site("gw-1"));
        assert_eq!(
            Identification::of_order(Route::CounterMedium, &counter),
            Identification::InPerson
        );
        for (route, sender) in [
            (Route::Internet, &gateway),
            (Route::Internet, &counter),
            // A gateway has nobody in front of staff, whatever route it names.
            (Route::CounterMedium, &gateway),
        ] {
            assert_eq!(
                Identification::of_order(route, sender),
                Identification::RegistrationNumber,
                "{route:?} from {sender:?}"
            );
        }
        assert_eq!(
            Identification::of_quote(),
            Identification::RegistrationNumber
        );
        assert_eq!(
            Identification::of_delivery(),
            Identification::RegistrationNumber
        );
    }

    #[test]
    fn from_afar_only_the_registration_number_finds_a_file() {
        let from_afar = Identification::RegistrationNumber;
        // A name and telephone alone: no lookup at all, so a new file.
        assert_eq!(from_afar.lookups(&who(None), &format()), vec![]);
        assert_eq!(from_afar.lookups(&who(Some("  ")), &format()), vec![]);
        // Not one of this site's numbers: no lookup either.
        assert_eq!(from_afar.lookups(&who(Some("Z123")), &format()), vec![]);
        assert_eq!(
            from_afar.lookups(&who(Some(" A0000001 ")), &format()),
            vec![Lookup::Number {
                number: RegistrationNumber::parse(&format(), "A0000001").unwrap(),
                telephone: Telephone::parse("03-1234-5678").unwrap(),
            }]
        );
    }

    #[test]
    fn in_person_the_name_and_telephone_come_after_the_number() {
        let by_name = Lookup::NameAndTelephone {
            name_key: file::normalise_name("Hanako Yamada"),
            telephone: Telephone::parse("(03) 1234 5678").unwrap(),
        };
        assert_eq!(
            Identification::InPerson.lookups(&who(None), &format()),
            vec![by_name.clone()]
        );
        let both = Identification::InPerson.lookups(&who(Some("A0000007")), &format());
        assert_eq!(both.len(), 2);
        assert!(matches!(&both[0], Lookup::Number { number, .. } if number.as_str() == "A0000007"));
        assert_eq!(both[1], by_name);
    }
}

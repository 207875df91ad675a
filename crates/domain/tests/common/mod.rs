//! Shared given/when/then helpers for the seed's worked examples.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Tokyo;
use reprint_domain::file::{self, Command, OpenReception};
use reprint_domain::*;

pub fn site(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}

/// An instant given as a wall-clock time in Tokyo (the demo sites' time zone).
pub fn tokyo(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Tokyo
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

pub fn image(n: u8) -> ImageId {
    ImageId::of_bytes(&[n; 16])
}

pub fn item(n: u8, size: PrintSize, quantity: u32) -> OrderItem {
    OrderItem {
        image: image(n),
        name: format!("IMG_{n:04}.JPG"),
        size,
        quantity,
    }
}

/// A file as a site keeps it, driven only through decide/evolve.
pub struct Given {
    pub rules: SiteRules,
    pub file: UserFile,
    seq: u64,
    orders: u64,
}

impl Given {
    pub fn new(rules: SiteRules) -> Given {
        Given {
            rules,
            file: UserFile::default(),
            seq: 0,
            orders: 0,
        }
    }

    pub fn registered(mut self, at: DateTime<Utc>) -> Given {
        let number = RegistrationNumber::new(&self.rules.registration_number, 1).unwrap();
        self.apply(Command::Register {
            registration_number: number,
            name: "Hanako Yamada".into(),
            telephone: Telephone::parse("03-1234-5678").unwrap(),
            address: Some("1-2-3 Ginza, Chuo-ku, Tokyo".into()),
            email: Some("hanako@example.jp".into()),
            at,
        })
        .unwrap();
        self
    }

    pub fn open_command(
        &mut self,
        at: DateTime<Utc>,
        items: Vec<OrderItem>,
        evidence: Vec<EarlierPrint>,
    ) -> Command {
        self.seq += 1;
        self.orders += 1;
        Command::OpenReception(Box::new(OpenReception {
            number: ReceptionNumber::new(&self.rules.reception_number, 455 + self.seq).unwrap(),
            order: OrderId::from_parts(at.timestamp_millis() as u64, [self.orders as u8; 10]),
            route: file::Route::Internet,
            received_at: at,
            data_receive: None,
            partner: site("counter-ginza"),
            items,
            digital_copy: false,
            evidence,
            estimated_finish: None,
            rules: self.rules.clone(),
        }))
    }

    /// Orders and returns the charge this site made.
    pub fn order(&mut self, at: DateTime<Utc>, items: Vec<OrderItem>) -> Charge {
        self.order_with(at, items, vec![])
    }

    pub fn order_with(
        &mut self,
        at: DateTime<Utc>,
        items: Vec<OrderItem>,
        evidence: Vec<EarlierPrint>,
    ) -> Charge {
        let cmd = self.open_command(at, items, evidence);
        self.apply(cmd).unwrap();
        self.file.receptions.last().unwrap().charge.clone()
    }

    pub fn apply(&mut self, cmd: Command) -> Result<Vec<file::Event>, DomainError> {
        let events = file::decide(&self.file, cmd)?;
        for e in &events {
            self.file = file::evolve(std::mem::take(&mut self.file), e);
        }
        Ok(events)
    }
}

pub fn yen(n: i64) -> Money {
    Money::new(n, Currency::JPY)
}

/// Asserts the charge's lines add up to its total and returns the basic charge.
pub fn basic(c: &Charge) -> i64 {
    assert_eq!(
        Money::sum(Currency::JPY, c.lines.iter().map(|l| &l.amount)).unwrap(),
        c.total
    );
    c.basic_charge().minor
}

//! Prints the seed's Fig. 7 (a lab's individual user file) and Fig. 9 (a counter's), with the
//! charges each site determines by its own policy: `cargo run -p reprint-domain --example seed_figures`.

use chrono::{DateTime, TimeZone, Utc};
use reprint_domain::file::{self, Command, OpenReception, Route, UserFile};
use reprint_domain::*;

fn tokyo(y: i32, m: u32, d: u32, h: u32, min: u32) -> Result<DateTime<Utc>, String> {
    chrono_tz::Asia::Tokyo
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| "not a time in Tokyo".to_string())
}

struct Site {
    rules: SiteRules,
    file: UserFile,
    next_reception: u64,
}

impl Site {
    fn apply(&mut self, cmd: Command) -> Result<(), DomainError> {
        for e in file::decide(&self.file, cmd)? {
            self.file = file::evolve(std::mem::take(&mut self.file), &e);
        }
        Ok(())
    }

    fn order(
        &mut self,
        at: DateTime<Utc>,
        partner: &SiteId,
        items: Vec<OrderItem>,
        route: Route,
    ) -> Result<(), DomainError> {
        let number = ReceptionNumber::new(&self.rules.reception_number, self.next_reception)?;
        self.next_reception += 1;
        self.apply(Command::OpenReception(Box::new(OpenReception {
            number,
            order: OrderId::from_parts(
                at.timestamp_millis() as u64,
                [self.next_reception as u8; 10],
            ),
            route,
            received_at: at,
            data_receive: None,
            partner: partner.clone(),
            items,
            digital_copy: false,
            evidence: vec![],
            estimated_finish: None,
            rules: self.rules.clone(),
        })))
    }

    fn print(&self, title: &str) {
        println!("== {title}");
        if let Some(u) = &self.file.user {
            println!(
                "   user id area: registration No. {}  {}  tel {}",
                u.registration_number,
                u.name,
                u.telephone.as_str()
            );
        }
        for r in &self.file.receptions {
            let local = r.received_at.with_timezone(&self.rules.time_zone);
            println!(
                "   reception No. {}  {:?}  {}  partner {}",
                r.number,
                r.route,
                local.format("%Y-%m-%d %H:%M"),
                r.partner
            );
            for line in &r.charge.lines {
                println!(
                    "      {:>10}  {}",
                    line.amount.to_string(),
                    line.description
                );
            }
            println!(
                "      {:>10}  total (basic charge {})",
                r.charge.total.to_string(),
                r.charge.basic_charge()
            );
        }
        println!();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lab_id = SiteId::parse("lab-a")?;
    let counter_id = SiteId::parse("counter-ginza")?;
    let register = |rules: &SiteRules, seq: u64, at| -> Result<Command, DomainError> {
        Ok(Command::Register {
            registration_number: RegistrationNumber::new(&rules.registration_number, seq)?,
            name: "Hanako Yamada".into(),
            telephone: Telephone::parse("03-1234-5678")?,
            address: Some("1-2-3 Ginza, Chuo-ku, Tokyo".into()),
            email: None,
            at,
        })
    };
    let photo = |n: u8, q| OrderItem {
        image: ImageId::of_bytes(&[n; 8]),
        name: format!("DSC_{n:04}.JPG"),
        size: PrintSize::L,
        quantity: q,
    };

    let mut lab = Site {
        rules: SiteRules::demo_lab(lab_id.clone()),
        file: UserFile::default(),
        next_reception: 455,
    };
    let mut counter = Site {
        rules: SiteRules::demo_counter(counter_id.clone()),
        file: UserFile::default(),
        next_reception: 1003,
    };
    lab.apply(register(&lab.rules, 123, tokyo(2026, 11, 14, 20, 5)?)?)?;
    counter.apply(register(&counter.rules, 88, tokyo(2026, 11, 15, 11, 0)?)?)?;

    lab.order(
        tokyo(2026, 11, 14, 20, 5)?,
        &counter_id,
        vec![photo(1, 2), photo(2, 1)],
        Route::Internet,
    )?;
    counter.order(
        tokyo(2026, 11, 15, 11, 0)?,
        &lab_id,
        vec![photo(1, 2), photo(2, 1)],
        Route::Internet,
    )?;
    lab.order(
        tokyo(2026, 11, 18, 21, 40)?,
        &counter_id,
        vec![photo(3, 4)],
        Route::Internet,
    )?;
    counter.order(
        tokyo(2026, 11, 19, 17, 30)?,
        &lab_id,
        vec![photo(3, 4)],
        Route::Internet,
    )?;

    println!(
        "reprint: the seed's worked examples (basic charge 500 yen per order, split 250 lab / 250 counter)\n"
    );
    lab.print("Fig. 7: A Corporation's laboratory, individual user file (free within a week, 50 % within a month)");
    counter.print("Fig. 9: delivery counter, individual user file (free within a month of the previous order)");
    let (Some(lab_second), Some(counter_second)) =
        (lab.file.receptions.last(), counter.file.receptions.last())
    else {
        return Err("no receptions".into());
    };
    println!(
        "second order at the counter: lab {} + counter {} = {} to pay in one payment",
        lab_second.charge.total,
        counter_second.charge.total,
        amount_due(&lab_second.charge, &counter_second.charge)?
    );
    Ok(())
}

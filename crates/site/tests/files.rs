//! A site's files on a real store, SQLite and Postgres: the seed's Fig. 7 through the store,
//! lookups, gap-free numbers, redelivery, concurrency and snapshots.

use chrono::{DateTime, TimeZone, Utc};
use reprint_domain::file::{OpenReception, Route};
use reprint_domain::*;
use reprint_eventstore::Store;
use reprint_site::{Identification, Identity, SiteFiles, UserIndex, index};
use reprint_testkit::{TestPostgres, TestSqlite};

fn tokyo(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Tokyo
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn hanako(phone: &str) -> Identity {
    Identity {
        registration_number: None,
        name: "Hanako  Yamada".into(),
        telephone: Telephone::parse(phone).unwrap(),
        address: None,
        email: None,
    }
}

fn order(at: DateTime<Utc>, n: u8) -> OpenReception {
    let rules = SiteRules::demo_lab(SiteId::parse("lab-a").unwrap());
    OpenReception {
        number: ReceptionNumber::new(&rules.reception_number, 1).unwrap(),
        order: OrderId::from_parts(at.timestamp_millis() as u64, [n; 10]),
        route: Route::Internet,
        received_at: at,
        data_receive: None,
        partner: SiteId::parse("counter-ginza").unwrap(),
        items: vec![OrderItem {
            image: ImageId::of_bytes(&[n]),
            name: format!("IMG_{n}.JPG"),
            size: PrintSize::L,
            quantity: 1,
        }],
        digital_copy: false,
        evidence: vec![],
        estimated_finish: None,
        rules,
    }
}

async fn open(url: &str) -> (Store, SiteFiles) {
    let store = Store::open(url).await.unwrap().with_projection(UserIndex);
    UserIndex::migrate(&store).await.unwrap();
    (
        store,
        SiteFiles::new(SiteRules::demo_lab(SiteId::parse("lab-a").unwrap())),
    )
}

async fn fig7_through_the_store(url: &str) {
    let (store, files) = open(url).await;
    let mut tx = store.begin().await.unwrap();
    let (mut file, created) = files
        .find_or_register(&mut tx, &hanako("03-1234-5678"), tokyo(2026, 11, 18, 10))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(file.registration_number.as_str(), "A0000001");
    let (first, new) = files
        .open_reception(&mut tx, &mut file, order(tokyo(2026, 11, 18, 10), 1))
        .await
        .unwrap();
    assert!(new);
    tx.commit().await.unwrap();
    assert_eq!(first.number.as_str(), "B0000001");
    assert_eq!(first.charge.basic_charge().minor, 250);

    // The same user, typed differently, a few days later: found, not registered again.
    let mut tx = store.begin().await.unwrap();
    let (mut file, created) = files
        .find_or_register(&mut tx, &hanako("(03) 1234 5678"), tokyo(2026, 11, 21, 10))
        .await
        .unwrap();
    assert!(!created);
    let (second, _) = files
        .open_reception(&mut tx, &mut file, order(tokyo(2026, 11, 21, 10), 2))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(second.number.as_str(), "B0000002");
    assert_eq!(
        second.charge.basic_charge().minor,
        0,
        "within a week of the previous order (Fig. 7)"
    );

    // The order redelivered: the same reception, no number issued.
    let mut tx = store.begin().await.unwrap();
    let (mut file, _) = files
        .find_or_register(&mut tx, &hanako("03-1234-5678"), tokyo(2026, 11, 21, 11))
        .await
        .unwrap();
    let (again, new) = files
        .open_reception(&mut tx, &mut file, order(tokyo(2026, 11, 21, 10), 2))
        .await
        .unwrap();
    assert!(!new);
    assert_eq!(again.number, second.number);
    assert_eq!(
        tx.stream_version("sequence-reception").await.unwrap(),
        2,
        "no gap, no extra number"
    );
    // Lookups.
    let (by_number, r) = files
        .by_reception(&mut tx, &second.number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_number.registration_number.as_str(), "A0000001");
    assert_eq!(r.order, second.order);
    assert!(
        files
            .by_order(&mut tx, first.order)
            .await
            .unwrap()
            .is_some()
    );
    let rows = index::receptions_by_telephone(&mut tx, "0312345678")
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].name, "Hanako Yamada");
    tx.commit().await.unwrap();

    // A registration number with someone else's telephone is not trusted.
    let mut tx = store.begin().await.unwrap();
    let mut other = hanako("090-9999-0000");
    other.registration_number = Some("A0000001".into());
    let (file, created) = files
        .find_or_register(&mut tx, &other, tokyo(2026, 11, 22, 10))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(file.registration_number.as_str(), "A0000002");
    tx.commit().await.unwrap();
}

async fn long_files_use_snapshots(url: &str) {
    let (store, files) = open(url).await;
    let start = tokyo(2026, 1, 1, 10);
    for i in 0..70u32 {
        let mut tx = store.begin().await.unwrap();
        let (mut file, _) = files
            .find_or_register(&mut tx, &hanako("03-1234-5678"), start)
            .await
            .unwrap();
        let at = start + chrono::Duration::hours(i64::from(i));
        files
            .open_reception(&mut tx, &mut file, order(at, (i % 250) as u8))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = store.begin().await.unwrap();
    let snap = tx
        .load_snapshot("user-file-A0000001")
        .await
        .unwrap()
        .expect("a snapshot after 64 events");
    assert_eq!(snap.version, 64);
    let loaded = files
        .load(
            &mut tx,
            &RegistrationNumber::parse(&files.rules.registration_number, "A0000001").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(loaded.version, 71);
    assert_eq!(loaded.file.receptions.len(), 70);
    let events = tx.read_stream("user-file-A0000001", 1, 1000).await.unwrap();
    let replayed = events
        .iter()
        .fold(reprint_domain::UserFile::default(), |f, e| {
            reprint_domain::file::evolve(f, &e.decode::<reprint_site::FileEvent>().unwrap().0)
        });
    assert_eq!(
        replayed, loaded.file,
        "snapshot + tail equals a full replay"
    );
}

#[tokio::test]
async fn sqlite_fig7_through_the_store() {
    let db = TestSqlite::create();
    fig7_through_the_store(&db.url).await;
}

#[tokio::test]
async fn postgres_fig7_through_the_store() {
    let db = TestPostgres::create().await;
    fig7_through_the_store(&db.url).await;
}

#[tokio::test]
async fn sqlite_long_files_use_snapshots() {
    let db = TestSqlite::create();
    long_files_use_snapshots(&db.url).await;
}

#[tokio::test]
async fn postgres_long_files_use_snapshots() {
    let db = TestPostgres::create().await;
    long_files_use_snapshots(&db.url).await;
}

#[tokio::test]
async fn postgres_two_concurrent_first_orders_of_one_person_make_one_file() {
    let db = TestPostgres::create().await;
    let (store, files) = open(&db.url).await;
    let mut a = store.begin().await.unwrap();
    let mut b = store.begin().await.unwrap();
    files
        .find_or_register(&mut a, &hanako("03-1234-5678"), tokyo(2026, 11, 18, 10))
        .await
        .unwrap();
    let b_result = tokio::spawn(async move {
        let r = files
            .find_or_register(&mut b, &hanako("03-1234-5678"), tokyo(2026, 11, 18, 10))
            .await
            .map(|_| ());
        (r, b)
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    a.commit().await.unwrap();
    let (r, _b) = b_result.await.unwrap();
    let err = r.expect_err("the second registration must not commit a second file");
    assert!(
        err.is_retryable()
            || err.to_string().contains("duplicate")
            || err.to_string().contains("unique"),
        "{err}"
    );
    // Retried, it finds the file.
    let files = SiteFiles::new(SiteRules::demo_lab(SiteId::parse("lab-a").unwrap()));
    let mut c = store.begin().await.unwrap();
    let (file, created) = files
        .find_or_register(&mut c, &hanako("03-1234-5678"), tokyo(2026, 11, 18, 10))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(file.registration_number.as_str(), "A0000001");
}

async fn quotes_record_nothing(url: &str) {
    use reprint_domain::protocol::{Customer, PlacedItem, QuoteRequest};
    let (store, files) = open(url).await;
    let customer = Customer {
        name: "Hanako Yamada".into(),
        telephone: "03-1234-5678".into(),
        address: None,
        email: None,
        registration_number: None,
    };
    let item = PlacedItem {
        image: ImageId::of_bytes(b"x"),
        name: "IMG.JPG".into(),
        size: PrintSize::L,
        quantity: 2,
        edits: None,
        perceptual_hash: None,
        history: vec![],
    };
    let request = QuoteRequest {
        customer: customer.clone(),
        items: vec![item.clone()],
        at: tokyo(2026, 11, 18, 10),
        digital_copy: false,
    };
    let mut tx = store.begin().await.unwrap();
    let first = files.quote(&mut tx, &request).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        first.total.minor,
        250 + 60,
        "a new customer pays the basic charge"
    );
    let mut tx = store.begin().await.unwrap();
    let (mut file, _) = files
        .find_or_register(&mut tx, &hanako("03-1234-5678"), tokyo(2026, 11, 18, 10))
        .await
        .unwrap();
    files
        .open_reception(&mut tx, &mut file, order(tokyo(2026, 11, 18, 10), 1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let again = files
        .quote(
            &mut tx,
            &QuoteRequest {
                at: tokyo(2026, 11, 20, 10),
                ..request.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        again.basic_charge().minor,
        0,
        "within a week of the previous order"
    );
    assert_eq!(
        tx.stream_version("sequence-reception").await.unwrap(),
        1,
        "a quote issues no number"
    );
    let bad = QuoteRequest {
        customer: Customer {
            telephone: "call me".into(),
            ..customer
        },
        ..request
    };
    assert!(
        files
            .quote(&mut tx, &bad)
            .await
            .unwrap_err()
            .to_string()
            .contains("telephone")
    );
}

#[tokio::test]
async fn sqlite_quotes_record_nothing() {
    let db = TestSqlite::create();
    quotes_record_nothing(&db.url).await;
}

/// Identity at a site: from afar (the web), only the registration number finds a file; a
/// second person with the same name and telephone gets a file of their own, and the quote tells
/// them nothing of the first's orders. In person both still find the first file.
async fn from_afar_only_the_registration_number_finds_a_file(url: &str) {
    use reprint_domain::protocol::{Customer, PlacedItem, QuoteRequest};
    let (store, files) = open(url).await;
    let web = Identification::RegistrationNumber;
    let first_at = tokyo(2026, 11, 18, 10);
    let mut tx = store.begin().await.unwrap();
    let (mut first, created) = files
        .find_or_register_as(&mut tx, &hanako("03-1234-5678"), web, first_at)
        .await
        .unwrap();
    assert!(created);
    files
        .open_reception(&mut tx, &mut first, order(first_at, 1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(first.registration_number.as_str(), "A0000001");

    // Someone else, same name and telephone, no registration number: a new file.
    let later = tokyo(2026, 11, 20, 10);
    let mut tx = store.begin().await.unwrap();
    let (other, created) = files
        .find_or_register_as(&mut tx, &hanako("(03) 1234-5678"), web, later)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        created,
        "a name and telephone opened someone's file from afar"
    );
    assert_eq!(other.registration_number.as_str(), "A0000002");
    assert!(other.file.receptions.is_empty());

    // A number that is no file here, or a file with another telephone: new, never found.
    let mut tx = store.begin().await.unwrap();
    for (number, phone) in [("A0000099", "03-1234-5678"), ("A0000001", "090-0000-0000")] {
        let who = Identity {
            registration_number: Some(number.into()),
            ..hanako(phone)
        };
        assert_eq!(
            files.find_as(&mut tx, &who, web).await.unwrap(),
            None,
            "{number} {phone}"
        );
    }
    // The first's own number finds the first's file.
    let owner = Identity {
        registration_number: Some("A0000001".into()),
        ..hanako("03-1234-5678")
    };
    assert_eq!(
        files.find_as(&mut tx, &owner, web).await.unwrap(),
        Some(first.registration_number.clone())
    );
    // In person (staff confirm) the name and telephone still find the first file.
    assert_eq!(
        files.find(&mut tx, &hanako("03-1234-5678")).await.unwrap(),
        Some(first.registration_number.clone())
    );
    tx.rollback().await.unwrap();

    // The quote from afar: no waiver for the stranger, the waiver for the owner.
    let request = |registration_number: Option<&str>| QuoteRequest {
        customer: Customer {
            name: "Hanako Yamada".into(),
            telephone: "03-1234-5678".into(),
            address: None,
            email: None,
            registration_number: registration_number.map(str::to_string),
        },
        items: vec![PlacedItem {
            image: ImageId::of_bytes(b"y"),
            name: "IMG.JPG".into(),
            size: PrintSize::L,
            quantity: 1,
            edits: None,
            perceptual_hash: None,
            history: vec![],
        }],
        at: later,
        digital_copy: false,
    };
    let mut tx = store.begin().await.unwrap();
    let stranger = files.quote_as(&mut tx, &request(None), web).await.unwrap();
    assert_eq!(stranger.basic_charge().minor, 250, "{stranger:?}");
    assert!(
        stranger
            .lines
            .iter()
            .all(|l| !l.description.contains("previous order")),
        "{stranger:?}"
    );
    let owner = files
        .quote_as(&mut tx, &request(Some("A0000001")), web)
        .await
        .unwrap();
    assert_eq!(owner.basic_charge().minor, 0, "{owner:?}");
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn sqlite_from_afar_only_the_registration_number_finds_a_file() {
    let db = TestSqlite::create();
    from_afar_only_the_registration_number_finds_a_file(&db.url).await;
}

#[tokio::test]
async fn postgres_from_afar_only_the_registration_number_finds_a_file() {
    let db = TestPostgres::create().await;
    from_afar_only_the_registration_number_finds_a_file(&db.url).await;
}

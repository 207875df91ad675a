//! The lab announces its printers' real ICC profiles (seed 000, claims 4 and 25; issue 20): a
//! printer configured with a profile file (deploy/icc) is listed in the catalog with the
//! profile's own description, its printer, paper and sizes, and the profile itself; a bad
//! profile file or paper stops the lab at start with the field named.

mod common;

use reprint_bus::subjects;
use reprint_domain::protocol::{CatalogReply, SourceProfile};
use reprint_domain::*;

use common::*;

const SHIPPED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/icc/reprint-silver-halide-glossy.icc"
);

/// The large-format printer prints through the shipped profile file, on the paper named.
fn with_profile_file(text: String) -> String {
    text.replacen(
        "icc_profile = \"sRGB\"\nhot_folder",
        &format!("icc_profile = {SHIPPED:?}\npaper = \"silver-halide glossy\"\nhot_folder"),
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_lists_the_printers_non_srgb_profile_with_printer_and_paper() {
    let rig = Rig::new(false).await;
    let config = rig.config_with(with_profile_file);
    assert_eq!(
        config.printers[1].paper.as_deref(),
        Some("silver-halide glossy"),
        "the tweak reached the large-format printer"
    );
    let lab = Running::start(config, None).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let catalog: CatalogReply = peer
        .request(subjects::RpcMethod::Catalog, &serde_json::json!({}))
        .await;
    assert_eq!(
        catalog.icc_profiles,
        vec![
            "reprint-silver-halide-glossy.icc".to_string(),
            "sRGB".to_string()
        ]
    );
    let paper = catalog
        .printer_profiles
        .iter()
        .find(|p| p.printer == "large-1")
        .expect("large-1 in printer_profiles");
    assert_eq!(paper.name, "reprint-silver-halide-glossy.icc");
    assert_eq!(
        paper.description,
        "reprint minilab, silver-halide glossy paper (generated, approximate)"
    );
    assert_eq!(paper.paper.as_deref(), Some("silver-halide glossy"));
    assert_eq!(paper.sizes, vec![PrintSize::In5x7, PrintSize::In8x10]);
    // The profile itself travels with it, byte for byte, for a client to soft-proof with.
    let bytes = SourceProfile::Icc(paper.icc.clone().expect("the profile's bytes"))
        .icc_bytes()
        .unwrap()
        .unwrap();
    assert_eq!(bytes, std::fs::read(SHIPPED).unwrap());
    // The other printer still prints sRGB, its paper unsaid.
    let minilab = catalog
        .printer_profiles
        .iter()
        .find(|p| p.printer == "minilab-1")
        .unwrap();
    assert_eq!(
        (minilab.name.as_str(), minilab.paper.as_deref()),
        ("sRGB", None)
    );
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_that_is_not_one_or_an_empty_paper_stops_the_lab_at_start() {
    let rig = Rig::new(false).await;
    let bogus = rig.dir.path().join("bogus.icc");
    std::fs::write(&bogus, b"not a profile at all").unwrap();
    let config = rig.config_with(|t| {
        t.replacen(
            "icc_profile = \"sRGB\"\nhot_folder",
            &format!("icc_profile = {bogus:?}\nhot_folder"),
            1,
        )
    });
    let e = match reprint_lab::Application::build(config).await {
        Ok(_) => panic!("a lab started with a bogus profile"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("icc_profile"), "{e}");

    let text = EXAMPLE.replacen(
        "icc_profile = \"sRGB\"\nhot_folder",
        "icc_profile = \"sRGB\"\npaper = \" \"\nhot_folder",
        1,
    );
    let e = format!(
        "{:#}",
        reprint_lab::LabConfig::from_toml(&text).unwrap_err()
    );
    assert!(e.contains("printers[1].paper"), "{e}");
}

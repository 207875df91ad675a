//! Every NATS configuration shipped in `deploy/nats` parses on the nats-server the tests use
//! (`nats-server -t -c <file>`; scripts/test picks a server of 2.10 or later, which the
//! cluster configs' `sync_interval: always` needs).

use std::process::Command;

use reprint_e2e::workspace_root;

/// The passwords users.conf reads from the environment (dummies: -t only parses).
const PASSWORD_VARS: [&str; 4] = [
    "REPRINT_NATS_PASSWORD_LAB_A",
    "REPRINT_NATS_PASSWORD_COUNTER_GINZA",
    "REPRINT_NATS_PASSWORD_COUNTER_SHIBUYA",
    "REPRINT_NATS_PASSWORD_GW_1",
];

#[test]
fn every_shipped_nats_config_parses() {
    let bin = reprint_testkit::nats::server_binary();
    let version = Command::new(&bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let dir = workspace_root().join("deploy/nats");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("deploy/nats")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for expected in [
        "single.conf",
        "cluster-node1.conf",
        "cluster-node2.conf",
        "cluster-node3.conf",
        "leaf-counter.conf",
        "users.conf",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    let mut bad = Vec::new();
    for file in &files {
        let mut cmd = Command::new(&bin);
        cmd.arg("-t").arg("-c").arg(file);
        for var in PASSWORD_VARS {
            cmd.env(var, "parse-only");
        }
        let out = cmd.output().expect("nats-server -t");
        if !out.status.success() {
            bad.push(format!(
                "{}: {}{}",
                file.display(),
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "with {} ({version}; the cluster configs need 2.10 or later: scripts/test installs one):\n{}",
        bin.display(),
        bad.join("\n")
    );
    // Without the passwords the server refuses to start rather than run with none.
    let out = Command::new(&bin)
        .arg("-t")
        .arg("-c")
        .arg(dir.join("single.conf"))
        .env_remove("REPRINT_NATS_PASSWORD_LAB_A")
        .output()
        .expect("nats-server -t");
    assert!(
        !out.status.success(),
        "single.conf parsed without lab-a's password"
    );
}

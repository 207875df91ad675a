//! The NATS users of `deploy/nats/users.conf` as shipped, with the passwords the tests give
//! them: the server reads each password from its environment ([`server_env`]), each service
//! logs in as its own user ([`service_env`]).

use reprint_bus::connect::{Auth, ConnectSettings, site_inbox_prefix};

/// (user, the environment variable of its password in users.conf, the test's password).
pub const USERS: [(&str, &str, &str); 4] = [
    ("lab-a", "REPRINT_NATS_PASSWORD_LAB_A", "pw-lab-a-7f3a"),
    (
        "counter-ginza",
        "REPRINT_NATS_PASSWORD_COUNTER_GINZA",
        "pw-ginza-91c2",
    ),
    (
        "counter-shibuya",
        "REPRINT_NATS_PASSWORD_COUNTER_SHIBUYA",
        "pw-shibuya-05d1",
    ),
    ("gw-1", "REPRINT_NATS_PASSWORD_GW_1", "pw-gw-1-c44e"),
];

/// The test's password of `user`.
///
/// # Panics
/// When users.conf has no such user in the test's list.
pub fn password(user: &str) -> &'static str {
    USERS
        .iter()
        .find(|(u, _, _)| *u == user)
        .map(|(_, _, p)| *p)
        .unwrap_or_else(|| panic!("no user {user} in the test's list"))
}

/// The nats-server's environment: every user's password variable.
pub fn server_env() -> Vec<(&'static str, &'static str)> {
    USERS.iter().map(|(_, var, pw)| (*var, *pw)).collect()
}

/// The environment that logs the network's services (`lab-a`, `counter-ginza`, `gw-1`) in as
/// their own users (`REPRINT_<SVC>__NATS__USER` / `__PASSWORD`).
pub fn service_env() -> Vec<(String, String)> {
    [
        ("LAB", "lab-a"),
        ("COUNTER", "counter-ginza"),
        ("GATEWAY", "gw-1"),
    ]
    .iter()
    .flat_map(|(svc, user)| {
        [
            (format!("REPRINT_{svc}__NATS__USER"), user.to_string()),
            (
                format!("REPRINT_{svc}__NATS__PASSWORD"),
                password(user).to_string(),
            ),
        ]
    })
    .collect()
}

/// Connection settings for a test client logged in as `user` (its reply inbox under
/// `_INBOX.<user>`, the only one users.conf lets it read).
pub fn connect_as(url: impl Into<String>, user: &str) -> ConnectSettings {
    let mut s = ConnectSettings::new(url, format!("test-{user}"));
    s.auth = Auth::UserPassword {
        user: user.to_string(),
        password: password(user).to_string(),
    };
    s.inbox_prefix = Some(site_inbox_prefix(user));
    s
}

/// The users the server reports connected (`/connz?auth=true`'s `authorized_user`: the user
/// name, or a creds file's user public key), with the whole report for a failure message.
pub async fn connected_users(monitor_port: u16) -> (Vec<String>, serde_json::Value) {
    let connz: serde_json::Value =
        reqwest::get(format!("http://127.0.0.1:{monitor_port}/connz?auth=true"))
            .await
            .expect("/connz")
            .json()
            .await
            .expect("/connz as JSON");
    let users = connz["connections"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["authorized_user"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    (users, connz)
}

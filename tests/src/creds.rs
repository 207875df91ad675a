//! NATS's decentralised authentication, made by the test: an operator, an account (with
//! JetStream) and one user per service, each user's `.creds` file (its JWT and NKey seed) as
//! `nsc` would write it, and a nats-server configuration in operator mode that trusts the
//! operator and knows the account (`resolver: MEMORY`). Signed with the `nkeys` crate, the one
//! async-nats itself signs with; the JWTs are the NATS v2 claims.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use nkeys::KeyPair;
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWT of `claims` ("nats" part), issued by `issuer` about `subject`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    let header = json!({"typ": "JWT", "alg": "ed25519-nkey"});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let mut claims = json!({
        "iat": now,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    // The claims' id: the hash of the claims without it, as the NATS JWT library makes it.
    let digest = sha256(claims.to_string().as_bytes());
    claims["jti"] = json!(data_encoding_base32(&digest));
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = issuer.sign(signing_input.as_bytes()).expect("sign JWT");
    format!("{signing_input}.{}", b64(&signature))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// RFC 4648 base32 without padding (the NATS JWT id's alphabet).
fn data_encoding_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn account_claims() -> Value {
    json!({
        "limits": {
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
            "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
            "max_ack_pending": -1, "mem_max_stream_bytes": -1, "disk_max_stream_bytes": -1,
            "max_bytes_required": false
        },
        "default_permissions": {"pub": {}, "sub": {}},
        "authorization": {},
        "type": "account",
        "version": 2
    })
}

/// An operator, its system account, one account for the network, and the users' creds files.
pub struct Operator {
    dir: tempfile::TempDir,
    operator_jwt: String,
    system_account: String,
    accounts: Vec<(String, String)>,
    account: KeyPair,
}

impl Operator {
    pub fn new() -> Operator {
        let operator = KeyPair::new_operator();
        let system = KeyPair::new_account();
        let account = KeyPair::new_account();
        let operator_jwt = jwt(
            &operator,
            &operator.public_key(),
            "reprint-test",
            json!({"system_account": system.public_key(), "type": "operator", "version": 2}),
        );
        let accounts = vec![
            (
                system.public_key(),
                jwt(&operator, &system.public_key(), "SYS", {
                    let mut c = account_claims();
                    c["limits"]["mem_storage"] = json!(0);
                    c["limits"]["disk_storage"] = json!(0);
                    c
                }),
            ),
            (
                account.public_key(),
                jwt(
                    &operator,
                    &account.public_key(),
                    "REPRINT",
                    account_claims(),
                ),
            ),
        ];
        Operator {
            dir: tempfile::tempdir().expect("creds directory"),
            operator_jwt,
            system_account: system.public_key(),
            accounts,
            account,
        }
    }

    /// Writes `<user>.creds` (a user of the network's account) and returns its path and the
    /// user's public key (what the server reports as the connection's `authorized_user`).
    pub fn user_creds(&self, user: &str) -> (PathBuf, String) {
        let kp = KeyPair::new_user();
        let token = jwt(
            &self.account,
            &kp.public_key(),
            user,
            json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                   "type": "user", "version": 2}),
        );
        let seed = kp.seed().expect("user seed");
        let text = format!(
            "-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n"
        );
        let path = self.dir.path().join(format!("{user}.creds"));
        std::fs::write(&path, text).expect("write creds file");
        (path, kp.public_key())
    }

    /// A nats-server configuration in operator mode trusting this operator.
    pub fn server_config(&self) -> PathBuf {
        let preload = self
            .accounts
            .iter()
            .map(|(key, token)| format!("    {key}: \"{token}\""))
            .collect::<Vec<_>>()
            .join("\n");
        let text = format!(
            "operator: \"{}\"\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n{preload}\n}}\n",
            self.operator_jwt, self.system_account
        );
        let path = self.dir.path().join("operator.conf");
        std::fs::write(&path, text).expect("write server configuration");
        path
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for Operator {
    fn default() -> Self {
        Operator::new()
    }
}

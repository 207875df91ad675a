//! Log-in for the people who use a site, written once for the three services: argon2id
//! password hashes (and the same argon2 work for an unknown name as for a wrong password,
//! [`Logins::verify`]), the logged-in [`Session`] kept server-side by [`crate::session`], a CSRF
//! token bound to the session for every form and API call that changes something, a CSRF token
//! for the log-in form itself before any session exists ([`login_token`]), a lockout keyed on
//! the account and the source together with back-off ([`Logins`]), and the checks of what a
//! person types at sign-up ([`check_password`], [`parse_email`], [`check_plain_text`]).

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub const SESSION_COOKIE: &str = "reprint_session";

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches a PHC hash made by [`hash_password`].
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// The secret that signs sessions. Keep it in the service's configuration; at least 32 bytes.
#[derive(Clone)]
pub struct SessionKey(Vec<u8>);

impl SessionKey {
    pub fn new(secret: &[u8]) -> Result<SessionKey, String> {
        if secret.len() < 32 {
            return Err("session secret must be at least 32 bytes".into());
        }
        Ok(SessionKey(secret.to_vec()))
    }

    /// A random key (sessions then last only as long as the process).
    pub fn random() -> SessionKey {
        use rand::RngCore;
        let mut k = vec![0u8; 32];
        OsRng.fill_bytes(&mut k);
        SessionKey(k)
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    fn verify_mac(&self, data: &[u8], tag: &[u8]) -> bool {
        let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) else {
            return false;
        };
        m.update(data);
        m.verify_slice(tag).is_ok()
    }
}

/// Who is logged in (kept in the session table by [`crate::session`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    pub role: String,
    /// Unix seconds.
    pub expires: i64,
    /// Random per log-in; the CSRF token is derived from it.
    pub nonce: String,
}

impl Session {
    pub fn new(user: &str, role: &str, now_unix: i64, ttl_secs: i64) -> Session {
        use rand::RngCore;
        let mut n = [0u8; 16];
        OsRng.fill_bytes(&mut n);
        Session {
            user: user.to_string(),
            role: role.to_string(),
            expires: now_unix + ttl_secs,
            nonce: B64.encode(n),
        }
    }

    /// The CSRF token every form of this session carries.
    pub fn csrf_token(&self, key: &SessionKey) -> String {
        B64.encode(key.mac(format!("csrf:{}", self.nonce).as_bytes()))
    }

    pub fn check_csrf(&self, key: &SessionKey, token: &str) -> bool {
        B64.decode(token)
            .is_ok_and(|t| key.verify_mac(format!("csrf:{}", self.nonce).as_bytes(), &t))
    }
}

/// The cookie that binds the log-in form's CSRF token to the browser before any session
/// exists (a signed double-submit: the form carries the HMAC of the cookie's random value).
pub const LOGIN_COOKIE: &str = "reprint_login";

/// The log-in form's CSRF token, and the cookie to set when the browser has none yet.
#[derive(Debug, Clone)]
pub struct LoginToken {
    pub token: String,
    /// A `Set-Cookie` value, when the request carried no (valid) log-in cookie.
    pub set_cookie: Option<String>,
}

fn cookie_values<'a>(
    headers: &'a axum::http::HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn login_mac(key: &SessionKey, value: &str) -> String {
    B64.encode(key.mac(format!("login:{value}").as_bytes()))
}

/// The token for a log-in (or sign-up) form: bound to the browser's log-in cookie, which is
/// made when missing. A page on another site can neither read the cookie nor compute the
/// token, so it cannot log a visitor in as someone else (log-in CSRF).
pub fn login_token(key: &SessionKey, headers: &axum::http::HeaderMap, secure: bool) -> LoginToken {
    let existing = cookie_values(headers, LOGIN_COOKIE)
        .find(|v| B64.decode(v).is_ok_and(|b| b.len() == 16))
        .map(str::to_string);
    match existing {
        Some(v) => LoginToken {
            token: login_mac(key, &v),
            set_cookie: None,
        },
        None => {
            use rand::RngCore;
            let mut n = [0u8; 16];
            OsRng.fill_bytes(&mut n);
            let v = B64.encode(n);
            LoginToken {
                token: login_mac(key, &v),
                set_cookie: Some(format!(
                    "{LOGIN_COOKIE}={v}; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200{}",
                    if secure { "; Secure" } else { "" }
                )),
            }
        }
    }
}

/// Whether `token` is the log-in form token of this browser's log-in cookie.
pub fn check_login_token(key: &SessionKey, headers: &axum::http::HeaderMap, token: &str) -> bool {
    let Ok(t) = B64.decode(token) else {
        return false;
    };
    cookie_values(headers, LOGIN_COOKIE)
        .any(|v| key.verify_mac(format!("login:{v}").as_bytes(), &t))
}

/// What a refused log-in form says (the same words in every service).
pub const LOGIN_TOKEN_REFUSED: &str =
    "this log-in form has expired or came from another site; open the log-in page again";

/// An argon2id hash (of nothing anyone knows) with the parameters of [`hash_password`]: the
/// password of an unknown account is verified against it, so the answer takes the same work.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$cmVwcmludC1kdW1teS1zYWx0$5x9lR0G0u3h0cG8bQ3WwAqkqFvE7bV7d0n5xJb1QmYk";

/// Log-in attempts of one service: verifies passwords (counting the argon2 verifications) and
/// throttles failures per account and source together, so a stranger elsewhere cannot lock
/// the owner out.
///
/// A pair (account, source) may fail `free_failures` times; each further failure locks that
/// pair for `window_secs * 2^(n - free_failures)` seconds (at most an hour), and a success
/// clears it. One source may make `10 * free_failures` attempts a window across all accounts
/// (one address spraying many accounts).
pub struct Logins {
    free_failures: u32,
    window_secs: i64,
    pairs: Mutex<HashMap<(String, String), (u32, i64)>>,
    sources: RateLimiter,
    verifications: AtomicU64,
}

/// The longest lock of one account and source.
const MAX_LOCK_SECS: i64 = 60 * 60;

impl Logins {
    pub fn new(free_failures: u32, window_secs: i64) -> Logins {
        let free_failures = free_failures.max(1);
        let window_secs = window_secs.max(1);
        Logins {
            free_failures,
            window_secs,
            pairs: Mutex::new(HashMap::new()),
            sources: RateLimiter::new(free_failures.saturating_mul(10), window_secs),
            verifications: AtomicU64::new(0),
        }
    }

    /// Whether `account` may try a log-in from `source` now; `Err(seconds to wait)` if not.
    pub fn check(&self, account: &str, source: &str, now_unix: i64) -> Result<(), i64> {
        if !self.sources.allow(&format!("source:{source}"), now_unix) {
            return Err(self.window_secs);
        }
        let Ok(pairs) = self.pairs.lock() else {
            return Err(self.window_secs);
        };
        match pairs.get(&(account.to_string(), source.to_string())) {
            Some((_, until)) if *until > now_unix => Err(*until - now_unix),
            _ => Ok(()),
        }
    }

    /// Counts a failed log-in of `account` from `source`.
    pub fn failed(&self, account: &str, source: &str, now_unix: i64) {
        let Ok(mut pairs) = self.pairs.lock() else {
            return;
        };
        if pairs.len() > 100_000 {
            let stale = now_unix - MAX_LOCK_SECS;
            pairs.retain(|_, (_, until)| *until > stale);
        }
        let entry = pairs
            .entry((account.to_string(), source.to_string()))
            .or_insert((0, 0));
        entry.0 = entry.0.saturating_add(1);
        if entry.0 >= self.free_failures {
            let excess = (entry.0 - self.free_failures).min(20);
            let lock = self
                .window_secs
                .saturating_mul(1i64 << excess)
                .min(MAX_LOCK_SECS);
            entry.1 = now_unix + lock;
        }
    }

    /// A successful log-in clears the pair's failures.
    pub fn succeeded(&self, account: &str, source: &str) {
        if let Ok(mut pairs) = self.pairs.lock() {
            pairs.remove(&(account.to_string(), source.to_string()));
        }
    }

    /// Verifies `password` against `hash`, or against [`DUMMY_HASH`] when there is no account
    /// (the same argon2 work either way; `false` then). Runs on the blocking pool.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let known = hash.is_some();
        let password = password.to_string();
        let hash = hash.unwrap_or(DUMMY_HASH).to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        ok && known
    }

    /// How many passwords this service has verified (argon2 runs), unknown accounts included.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

/// Where a request comes from (the peer's IP address; `unknown` when the server did not say),
/// for [`Logins`]: a lockout holds an account only from the source that failed.
#[derive(Debug, Clone)]
pub struct Source(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Source, Self::Rejection> {
        Ok(Source(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

/// The least zxcvbn score a new password must reach (3: "safely unguessable").
pub const MIN_PASSWORD_SCORE: u8 = 3;

/// Refuses a weak password in plain words, with zxcvbn's own advice. `user_inputs` are the
/// person's other fields (name, e-mail), which a password must not lean on.
pub fn check_password(password: &str, user_inputs: &[&str]) -> Result<(), String> {
    let n = password.chars().count();
    if !(8..=200).contains(&n) {
        return Err(format!(
            "the password must be 8 to 200 characters (got {n})"
        ));
    }
    let entropy = zxcvbn::zxcvbn(password, user_inputs);
    if (entropy.score() as u8) >= MIN_PASSWORD_SCORE {
        return Ok(());
    }
    let mut words = vec!["this password is too easy to guess".to_string()];
    if let Some(f) = entropy.feedback() {
        if let Some(w) = f.warning() {
            words.push(w.to_string());
        }
        words.extend(f.suggestions().iter().map(|s| s.to_string()));
    }
    if words.len() == 1 {
        words.push("Add another word or two; uncommon words are better.".into());
    }
    Err(words.join(". ").replace("..", "."))
}

/// Parses an e-mail address (RFC 5322 addr-spec, a domain with at least two labels, no
/// display name) and returns it trimmed and in lower case; the refusal is in plain words.
pub fn parse_email(email: &str) -> Result<String, String> {
    let email = email.trim();
    let n = email.chars().count();
    if !(3..=254).contains(&n) {
        return Err(format!(
            "the e-mail address must be 3 to 254 characters (got {n})"
        ));
    }
    let options = email_address::Options {
        minimum_sub_domains: 2,
        allow_domain_literal: false,
        allow_display_text: false,
        ..email_address::Options::default()
    };
    match email_address::EmailAddress::parse_with_options(email, options) {
        Ok(a) if a.email() == email => Ok(email.to_lowercase()),
        Ok(_) => Err("give the e-mail address alone, like hanako@example.jp".into()),
        Err(e) => Err(format!(
            "this is not an e-mail address ({e}); it looks like hanako@example.jp"
        )),
    }
}

/// Refuses control characters (NUL, bell, escape, line breaks...) in a name, telephone or
/// address, in plain words naming the field.
pub fn check_plain_text(field: &str, value: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) {
        return Err(format!(
            "the {field} contains a control character (like NUL or a line break); type it again"
        ));
    }
    Ok(())
}

/// At most `max` attempts per key (a user name or an address) in `window_secs`.
pub struct RateLimiter {
    max: u32,
    window_secs: i64,
    seen: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    pub fn new(max: u32, window_secs: i64) -> RateLimiter {
        RateLimiter {
            max,
            window_secs,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; `false` when over the limit.
    pub fn allow(&self, key: &str, now_unix: i64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if seen.len() > 100_000 {
            let window = self.window_secs;
            seen.retain(|_, (start, _)| now_unix - *start < window);
        }
        let entry = seen.entry(key.to_string()).or_insert((now_unix, 0));
        if now_unix - entry.0 >= self.window_secs {
            *entry = (now_unix, 0);
        }
        entry.1 += 1;
        entry.1 <= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn the_dummy_hash_is_a_real_hash_with_the_same_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).expect("a PHC string");
        let real = hash_password("anything at all").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(parsed.algorithm, real.algorithm);
        assert_eq!(parsed.params, real.params);
        assert_eq!(
            parsed.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "same output length"
        );
    }

    #[tokio::test]
    async fn unknown_accounts_cost_one_verification_and_never_pass() {
        let logins = Logins::new(3, 60);
        assert!(!logins.verify("whatever", None).await);
        let h = hash_password("correct horse").unwrap();
        assert!(!logins.verify("wrong", Some(&h)).await);
        assert!(logins.verify("correct horse", Some(&h)).await);
        assert_eq!(logins.verifications(), 3);
    }

    #[test]
    fn a_lockout_holds_one_account_and_source_with_back_off() {
        let l = Logins::new(3, 60);
        for _ in 0..3 {
            assert!(l.check("owner", "stranger", 0).is_ok());
            l.failed("owner", "stranger", 0);
        }
        assert_eq!(l.check("owner", "stranger", 0), Err(60));
        assert!(
            l.check("owner", "home", 0).is_ok(),
            "the owner's own source"
        );
        assert!(l.check("someone", "stranger", 0).is_ok());
        assert!(l.check("owner", "stranger", 61).is_ok(), "after the lock");
        l.failed("owner", "stranger", 61);
        assert_eq!(l.check("owner", "stranger", 61), Err(120), "doubled");
        l.succeeded("owner", "stranger");
        assert!(l.check("owner", "stranger", 62).is_ok());
    }

    #[test]
    fn sessions_bind_csrf_and_login_tokens_bind_their_cookie() {
        let key = SessionKey::random();
        let s = Session::new("op1", "operator", 1000, 60);
        let t = s.csrf_token(&key);
        assert!(s.check_csrf(&key, &t));
        assert!(
            !Session::new("op1", "operator", 1000, 60).check_csrf(&key, &t),
            "another log-in's token"
        );
        let first = login_token(&key, &axum::http::HeaderMap::new(), true);
        let cookie = first.set_cookie.clone().expect("a new log-in cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.ends_with("; Secure"),
            "{cookie}"
        );
        let value = cookie.split(';').next().unwrap().to_string();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            format!("a=b; {value}").parse().unwrap(),
        );
        assert!(check_login_token(&key, &headers, &first.token));
        let again = login_token(&key, &headers, true);
        assert!(again.set_cookie.is_none(), "the cookie is kept");
        assert_eq!(again.token, first.token);
        assert!(!check_login_token(
            &key,
            &axum::http::HeaderMap::new(),
            &first.token
        ));
        assert!(!check_login_token(
            &SessionKey::random(),
            &headers,
            &first.token
        ));
        assert!(!check_login_token(&key, &headers, "forged"));
    }

    #[test]
    fn the_demo_accounts_of_scripts_run_pass_the_strength_check() {
        // scripts/run signs these up and the README lists them: they must be accepted.
        let run = include_str!("../../../scripts/run");
        let mut seen = 0;
        for line in run.lines().filter(|l| l.starts_with("signup ")) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let password = words[words.len() - 2];
            assert_eq!(check_password(password, &[words[1]]), Ok(()), "{line}");
            seen += 1;
        }
        assert_eq!(seen, 2);
    }

    #[test]
    fn what_people_type_is_checked_in_plain_words() {
        for weak in ["password", "12345678", "hanako1985", "qwertyuiop"] {
            let e = check_password(weak, &["hanako@example.jp"]).unwrap_err();
            assert!(
                e.starts_with("this password is too easy to guess"),
                "{weak}: {e}"
            );
        }
        assert!(check_password("correct horse battery", &[]).is_ok());
        assert!(
            check_password("short", &[])
                .unwrap_err()
                .contains("8 to 200")
        );
        assert_eq!(
            parse_email(" Hanako@Example.JP ").unwrap(),
            "hanako@example.jp"
        );
        for bad in [
            "a@b",
            "no-at-sign",
            "Hanako <h@example.jp>",
            "h@@example.jp",
            "h@example..jp",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
        assert!(
            check_plain_text("name", "Hanako\0")
                .unwrap_err()
                .contains("control")
        );
        assert!(check_plain_text("name", "山田 花子").is_ok());
    }

    #[test]
    fn the_rate_limit_resets_after_its_window() {
        let r = RateLimiter::new(3, 60);
        assert!((0..3).all(|_| r.allow("ip", 0)));
        assert!(!r.allow("ip", 10));
        assert!(r.allow("other", 10));
        assert!(r.allow("ip", 61));
    }
}

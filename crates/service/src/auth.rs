//! Log-in for the people who use a site: argon2id password hashes, a session in a signed
//! cookie (HMAC-SHA-256; HttpOnly, SameSite=Lax), a CSRF token bound to the session for every
//! form, and a rate limit on log-in attempts.
//!
//! A signed cookie needs no session table and survives a restart of the service; logging out
//! clears the cookie, and sessions expire after their time to live.

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

/// Who is logged in.
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

    /// The cookie value: payload and signature.
    pub fn seal(&self, key: &SessionKey) -> String {
        let payload = B64.encode(serde_json::to_vec(self).unwrap_or_default());
        let tag = B64.encode(key.mac(payload.as_bytes()));
        format!("{payload}.{tag}")
    }

    /// The session in a cookie value, if the signature is right and it has not expired.
    pub fn open(key: &SessionKey, value: &str, now_unix: i64) -> Option<Session> {
        let (payload, tag) = value.split_once('.')?;
        let tag = B64.decode(tag).ok()?;
        if !key.verify_mac(payload.as_bytes(), &tag) {
            return None;
        }
        let s: Session = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        (s.expires > now_unix).then_some(s)
    }

    /// The CSRF token every form of this session carries.
    pub fn csrf_token(&self, key: &SessionKey) -> String {
        B64.encode(key.mac(format!("csrf:{}", self.nonce).as_bytes()))
    }

    pub fn check_csrf(&self, key: &SessionKey, token: &str) -> bool {
        B64.decode(token)
            .is_ok_and(|t| key.verify_mac(format!("csrf:{}", self.nonce).as_bytes(), &t))
    }

    /// `Set-Cookie` header value for this session.
    pub fn set_cookie(&self, key: &SessionKey, secure: bool) -> String {
        let max_age = 60 * 60 * 12;
        format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
            self.seal(key),
            if secure { "; Secure" } else { "" }
        )
    }
}

/// `Set-Cookie` header value that logs out.
pub fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The session cookie of a request, verified.
pub fn session_from_headers(
    headers: &axum::http::HeaderMap,
    key: &SessionKey,
    now_unix: i64,
) -> Option<Session> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .find_map(|(_, value)| Session::open(key, value, now_unix))
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
    fn sessions_are_signed_expire_and_bind_csrf() {
        let key = SessionKey::random();
        let s = Session::new("op1", "operator", 1000, 60);
        let v = s.seal(&key);
        assert_eq!(Session::open(&key, &v, 1030), Some(s.clone()));
        assert_eq!(Session::open(&key, &v, 1060), None, "expired");
        assert_eq!(
            Session::open(&SessionKey::random(), &v, 1030),
            None,
            "another key"
        );
        let tampered = v.replacen('e', "f", 1);
        assert!(tampered == v || Session::open(&key, &tampered, 1030).is_none());
        let t = s.csrf_token(&key);
        assert!(s.check_csrf(&key, &t));
        assert!(
            !Session::new("op1", "operator", 1000, 60).check_csrf(&key, &t),
            "another log-in's token"
        );
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            format!("a=b; {SESSION_COOKIE}={v}").parse().unwrap(),
        );
        assert_eq!(
            session_from_headers(&headers, &key, 1001).map(|s| s.user),
            Some("op1".into())
        );
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

//! What the services' command lines share.

use std::io::BufRead;

/// The `hash-password` subcommand: reads a password (one line on standard input) and returns
/// its argon2id hash, for an operator's or a staff account's `password_hash`. An empty line is
/// `Err(when_empty)`.
pub fn hash_password_from_stdin(when_empty: &str) -> Result<String, String> {
    hash_password_from(std::io::stdin().lock(), when_empty)
}

/// [`hash_password_from_stdin`] on any input.
pub fn hash_password_from(mut input: impl BufRead, when_empty: &str) -> Result<String, String> {
    let mut line = String::new();
    input.read_line(&mut line).map_err(|e| e.to_string())?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(when_empty.to_string());
    }
    crate::auth::hash_password(password)
}

/// Runs a service's `run` (build, then run until stopped) with telemetry set up for it, and
/// exports the spans still in the batch before the process ends (every service's `main`).
pub async fn run_traced<F, E>(service: &str, site: &str, run: F) -> Result<(), E>
where
    F: std::future::Future<Output = Result<(), E>>,
{
    let telemetry = crate::telemetry::init(service, Some(site));
    let result = run.await;
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_hashed_without_its_line_break() {
        let hash = hash_password_from(&b"s3cret\r\nmore\n"[..], "empty").unwrap();
        assert!(crate::auth::verify_password("s3cret", &hash), "{hash}");
        assert_eq!(
            hash_password_from(&b"\n"[..], "no password").unwrap_err(),
            "no password"
        );
    }
}

//! Waiting, with a deadline, for what an asynchronous action brings about (a consumer handling
//! a message, a server updating its own counts) instead of reading it once and hoping.

use std::fmt::Debug;
use std::time::Duration;

/// How often [`wait_for`] looks again.
const POLL: Duration = Duration::from_millis(50);

/// Reads `probe` until `done` holds for what it returns, and returns that value. Panics after
/// `within`, saying `what` was awaited and the last value read.
pub async fn wait_for<T: Debug>(
    within: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = probe().await;
        if done(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not so after {within:?}, last read {value:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

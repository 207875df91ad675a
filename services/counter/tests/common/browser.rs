//! The browser kit of every service's tests lives in `crates/testkit/src/browser.rs`
//! (headless Chromium over DevTools: pages at desktop and phone size, overflow, touch targets,
//! axe-core, screenshots, the log-in form).

#[allow(unused_imports)]
// not every test binary that includes the common module opens a browser
pub use reprint_testkit::browser::*;

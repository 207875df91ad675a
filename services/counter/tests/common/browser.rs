//! The browser kit of every service's tests lives in `crates/testkit/src/browser.rs`
//! (headless Chromium over DevTools: pages at desktop and phone size, overflow, touch targets,
//! axe-core, screenshots, the log-in form).

pub use reprint_testkit::browser::*;

//! Sign-up, log-in and the account page in a real headless Chromium, at 1280 x 900 and at
//! 390 x 844: nothing wider than the screen, touch targets of 44 px, no serious axe-core
//! finding; the language switch changes the page's words and stays after the log-in; a wrong
//! password is said in words beside the form, which keeps the e-mail; a password change ends
//! another browser's session and keeps this one. Skipped, saying so, without Chromium.

mod common;

use common::browser::*;
use common::*;
use serde_json::json;

const SIZES: [(u32, u32); 2] = [(1280, 900), (390, 844)];

/// Fits, touch targets, accessibility and a screenshot at both sizes.
async fn check_page(page: &mut Page, name: &str) {
    for (w, h) in SIZES {
        page.set_viewport(w, h).await;
        let what = format!("{name} at {w}x{h}");
        page.assert_fits(&what).await;
        let small = page.small_touch_targets().await;
        assert!(small.is_empty(), "{what}: small touch targets {small:?}");
        page.assert_accessible(&what).await;
        page.screenshot(&format!("{name}-{w}")).await;
    }
}

async fn text(page: &mut Page, selector: &str) -> String {
    page.eval(&format!(
        "(document.querySelector({}) || {{textContent: ''}}).textContent.trim()",
        json!(selector)
    ))
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

async fn submit(page: &mut Page, button: &str, wait: &str, condition: &str) {
    page.click(button).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    page.wait_for(wait, condition).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_log_in_and_the_account_page_in_chromium() {
    if !chromium_installed() {
        return;
    }
    let app = spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.call("Page.enable", json!({})).await;
    page.call("Runtime.enable", json!({})).await;
    let base = app.base.clone();

    // The sign-up page (the tests' pages speak English by [web].locale).
    page.goto(&format!("{base}/signup")).await;
    assert_eq!(text(&mut page, "h1").await, "Sign up");
    // Every input has its label.
    let unlabelled = page
        .eval("[...document.querySelectorAll('input:not([type=hidden])')].filter(i => !i.labels || i.labels.length === 0).map(i => i.name)")
        .await;
    assert_eq!(unlabelled, json!([]), "inputs without a label");
    check_page(&mut page, "signup-en").await;

    // The language switch: the page's words change.
    page.click("footer a[hreflang=ja]").await;
    page.wait_for(
        "the Japanese sign-up page",
        "document.documentElement.lang === 'ja' && document.readyState === 'complete' && location.pathname === '/signup'",
    )
    .await;
    assert_eq!(text(&mut page, "h1").await, "新規登録");
    assert_eq!(text(&mut page, "label[for=f-password]").await, "パスワード");

    // A refused sign-up: the reasons beside the fields, in Japanese; what was typed stays,
    // the password does not.
    page.fill("#f-name", "山田 花子").await;
    page.fill("#f-telephone", "03-1234-5678").await;
    page.fill("#f-email", "hanako@example.jp").await;
    page.fill("#f-password", "password").await;
    submit(
        &mut page,
        "#signup",
        "the refused form",
        "document.querySelector('#f-password-error') !== null && document.readyState === 'complete'",
    )
    .await;
    assert!(
        text(&mut page, "#f-password-error")
            .await
            .contains("推測されやすすぎます"),
        "{}",
        text(&mut page, "#f-password-error").await
    );
    let kept = page
        .eval("[document.querySelector('#f-name').value, document.querySelector('#f-email').value, document.querySelector('#f-password').value]")
        .await;
    assert_eq!(kept, json!(["山田 花子", "hanako@example.jp", ""]));
    assert_eq!(
        page.eval("document.querySelector('#f-password').getAttribute('aria-invalid')")
            .await,
        json!("true")
    );
    check_page(&mut page, "signup-refused-ja").await;

    page.fill("#f-password", "correct horse battery").await;
    submit(
        &mut page,
        "#signup",
        "the log-in page after sign-up",
        "document.querySelector('form[action=\"/login\"]') !== null && document.readyState === 'complete'",
    )
    .await;
    assert_eq!(text(&mut page, "h1").await, "ログイン");
    assert!(
        text(&mut page, ".notice")
            .await
            .contains("ログインしてください")
    );

    // A wrong password: said in words, the e-mail kept.
    page.fill("#f-email", "hanako@example.jp").await;
    page.fill("#f-password", "not the password").await;
    submit(
        &mut page,
        "#login",
        "the refused log-in",
        "document.querySelector('.problem') !== null && document.readyState === 'complete'",
    )
    .await;
    assert!(
        text(&mut page, ".problem")
            .await
            .contains("パスワードが違います")
    );
    assert_eq!(
        page.eval("document.querySelector('#f-email').value").await,
        json!("hanako@example.jp")
    );
    check_page(&mut page, "login-refused-ja").await;

    // Logged in, the pages still speak Japanese (the account kept the language of its
    // sign-up), the account page first.
    page.log_in(&base, "hanako@example.jp", "correct horse battery")
        .await;
    page.goto(&format!("{base}/account")).await;
    assert_eq!(text(&mut page, "h1").await, "アカウント");
    assert_eq!(
        page.eval("document.documentElement.lang").await,
        json!("ja")
    );
    let shown = text(&mut page, ".account dl").await;
    assert!(
        shown.contains("山田 花子") && shown.contains("hanako@example.jp"),
        "{shown}"
    );
    assert_eq!(
        page.eval("document.querySelector('#f-lang').value").await,
        json!("ja")
    );
    check_page(&mut page, "account-ja").await;

    // The account's language to English: saved, and the page speaks it.
    page.eval("document.querySelector('#f-lang').value = 'en', true")
        .await;
    submit(
        &mut page,
        "#save-language",
        "the English account page",
        "location.search === '?saved=language' && document.documentElement.lang === 'en'",
    )
    .await;
    assert_eq!(text(&mut page, "h1").await, "Your account");
    assert!(
        text(&mut page, ".notice")
            .await
            .contains("language is saved")
    );

    // Another browser (here an API client) logged in to the same account.
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = other
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"email": "hanako@example.jp", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = other.get(format!("{base}/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A wrong current password is refused beside its field.
    page.fill("#f-current_password", "a wrong guess").await;
    page.fill("#f-new_password", "lantern orchard velvet").await;
    submit(
        &mut page,
        "#change-password",
        "the refused change",
        "document.querySelector('#f-current_password-error') !== null && document.readyState === 'complete'",
    )
    .await;
    assert!(
        text(&mut page, "#f-current_password-error")
            .await
            .contains("not right")
    );
    check_page(&mut page, "account-refused-en").await;

    // The change: this browser stays logged in, the other one is logged out.
    page.fill("#f-current_password", "correct horse battery")
        .await;
    page.fill("#f-new_password", "lantern orchard velvet").await;
    submit(
        &mut page,
        "#change-password",
        "the changed password",
        "location.search === '?saved=password' && document.readyState === 'complete'",
    )
    .await;
    assert!(text(&mut page, ".notice").await.contains("logged out"));
    let r = other.get(format!("{base}/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 401, "the other browser's session ended");
    page.goto(&format!("{base}/account")).await;
    assert_eq!(
        text(&mut page, "h1").await,
        "Your account",
        "this browser is still logged in"
    );
    check_page(&mut page, "account-en").await;

    // The new password logs in, the old one no more.
    let fresh = reqwest::Client::new();
    for (password, want) in [
        ("correct horse battery", 401),
        ("lantern orchard velvet", 200),
    ] {
        let r = fresh
            .post(format!("{base}/api/v1/session"))
            .json(&json!({"email": "hanako@example.jp", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{password}");
    }

    browser.close(&mut page).await;
}

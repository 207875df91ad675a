//! What people read on every reprint page, written once for the gateway, the counter, the lab
//! and ops:
//!
//! - [`Lang`]: Japanese or English, chosen by the person (their account), else by their
//!   browser (`Accept-Language`), else by the site's locale ([`Lang::negotiate`]);
//! - [`t`] / [`t_with`]: the words, from Fluent message files (`locales/<lang>/main.ftl`, loaded
//!   at compile time by `fluent-templates`; a message missing in Japanese falls back to English);
//! - [`money`] and [`local_time`]: amounts and times as the reader's language writes them, in
//!   the site's time zone (`¥1,250`, `3 Dec 2026, 17:03` / `2026年12月3日 17:03`);
//! - [`stage`]: an order's stage in plain words instead of its code;
//! - [`layout`]: the one page layout (maud: compile-time checked, auto-escaping markup), phone
//!   first (nothing wider than the screen, touch targets of at least 44 px).

pub mod analysis;
pub mod chart;

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid, static_loader};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use reprint_domain::Money;
use reprint_domain::protocol::Stage;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: pages are plain HTML text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static EN: LanguageIdentifier = langid!("en");
static JA: LanguageIdentifier = langid!("ja");

/// The languages the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Ja, Lang::En];

    /// `ja` and `ja-JP` are Japanese, `en`, `en-GB` English; anything else is not spoken.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The tag for `<html lang>` and for storing a choice.
    pub fn tag(&self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The language's own name (for a switcher).
    pub fn own_name(&self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ja => "日本語",
        }
    }

    fn id(&self) -> &'static LanguageIdentifier {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }

    /// The person's own choice if they made one, else the first language their browser asks
    /// for that the pages speak (by `q` weight, RFC 9110 12.5.4), else the site's language,
    /// else English.
    pub fn negotiate(choice: Option<&str>, accept_language: Option<&str>, site: &str) -> Lang {
        if let Some(lang) = choice.and_then(Lang::from_tag) {
            return lang;
        }
        if let Some(header) = accept_language {
            let mut asked: Vec<(u16, usize, Lang)> = header
                .split(',')
                .enumerate()
                .filter_map(|(i, part)| {
                    let mut bits = part.split(';');
                    let lang = Lang::from_tag(bits.next()?)?;
                    let q = bits
                        .find_map(|b| b.trim().strip_prefix("q="))
                        .map(|q| (q.trim().parse::<f32>().unwrap_or(0.0) * 1000.0) as u16)
                        .unwrap_or(1000);
                    (q > 0).then_some((q, i, lang))
                })
                .collect();
            asked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            if let Some((_, _, lang)) = asked.first() {
                return *lang;
            }
        }
        Lang::from_tag(site).unwrap_or(Lang::En)
    }
}

/// The message `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> String {
    LOCALES.lookup(lang.id(), key)
}

/// The message `key` in `lang` with its arguments (`[("count", 3.into())]`).
pub fn t_with(lang: Lang, key: &str, args: &[(&'static str, FluentValue<'static>)]) -> String {
    let args: HashMap<Cow<'static, str>, FluentValue<'static>> = args
        .iter()
        .map(|(k, v)| (Cow::Borrowed(*k), v.clone()))
        .collect();
    LOCALES.lookup_with_args(lang.id(), key, &args)
}

/// Whether `key` has its own message in `lang`, not a fallback (tests of the message files).
/// A message whose arguments are missing here still counts as there.
pub fn has_message(lang: Lang, key: &str) -> bool {
    match LOCALES.lookup_single_language::<&str>(lang.id(), key, None) {
        Ok(_) => true,
        // fluent-templates does not export its LookupError: a message that was found but
        // could not be formatted without its arguments is `FluentError(..)`.
        Err(e) => format!("{e:?}").starts_with("FluentError"),
    }
}

/// An order's stage in plain words.
pub fn stage(lang: Lang, stage: Stage) -> String {
    t(lang, &format!("stage-{}", stage.as_str()))
}

/// Money as people write it: `¥1,250`, `€12.50`, `-$0.05`; a currency without a sign of its
/// own as `12.50 CHF`. The same in both languages (Japanese writes yen as ¥1,250 too).
pub fn money(_lang: Lang, m: Money) -> String {
    let digits = u32::from(m.currency.minor_digits());
    let scale = 10u64.pow(digits);
    let abs = m.minor.unsigned_abs();
    let whole = group_thousands(abs / scale);
    let number = if digits == 0 {
        whole
    } else {
        format!("{whole}.{:0w$}", abs % scale, w = digits as usize)
    };
    let sign = if m.minor < 0 { "-" } else { "" };
    match m.currency.code() {
        "JPY" => format!("{sign}¥{number}"),
        "EUR" => format!("{sign}€{number}"),
        "USD" => format!("{sign}${number}"),
        "GBP" => format!("{sign}£{number}"),
        code => format!("{sign}{number} {code}"),
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A moment as the reader writes it, in the site's time zone, to the minute:
/// `3 Dec 2026, 17:03` or `2026年12月3日 17:03`.
pub fn local_time(lang: Lang, tz: chrono_tz::Tz, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tz);
    match lang {
        Lang::En => local.format("%-d %b %Y, %H:%M").to_string(),
        Lang::Ja => format!(
            "{}年{}月{}日 {}",
            local.year(),
            local.month(),
            local.day(),
            local.format("%H:%M")
        ),
    }
}

/// A link of the page's navigation.
#[derive(Debug, Clone)]
pub struct NavLink {
    pub href: String,
    pub label: String,
    pub current: bool,
}

/// What a page says around its content.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub lang: Lang,
    pub title: &'a str,
    /// The service and site it belongs to ("reprint", "Lab A").
    pub site: &'a str,
    pub nav: Vec<NavLink>,
    /// Extra `<head>` content of this page (its own small script), already trusted markup.
    pub head: Option<Markup>,
    /// What ends the header after the navigation (a log-out button), already trusted markup.
    pub actions: Option<Markup>,
    /// The page's footer (a language switcher), already trusted markup.
    pub footer: Option<Markup>,
}

/// The shared stylesheet: phone first (one column, nothing wider than the screen, wide tables
/// scroll inside their box), touch targets of at least 44 px, visible keyboard focus.
pub const STYLE: &str = "\
*,*::before,*::after{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Hiragino Sans','Noto Sans JP',sans-serif;color:#1b1b1b;background:#fafafa}\
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:8px}\
header{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;padding:8px 16px;background:#143d59;color:#fff}\
header a{color:#fff}header .site{font-weight:700;margin-right:auto}\
nav{display:flex;flex-wrap:wrap;gap:4px}\
nav a{display:inline-flex;align-items:center;min-height:44px;padding:0 12px;text-decoration:none;border-radius:6px}\
nav a[aria-current=page]{background:rgba(255,255,255,.2)}\
main{max-width:960px;margin:0 auto;padding:16px;overflow-wrap:anywhere}\
img,video,canvas{max-width:100%;height:auto}\
.scroll{overflow-x:auto}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:8px;border-bottom:1px solid #ddd}\
button,.button,input[type=submit]{min-height:44px;min-width:44px;padding:0 16px;font:inherit;border-radius:6px;border:1px solid #143d59;background:#143d59;color:#fff;cursor:pointer}\
a.button{display:inline-flex;align-items:center;justify-content:center;text-decoration:none;vertical-align:middle}\
input,select,textarea{min-height:44px;font:inherit;max-width:100%}\
:focus-visible{outline:3px solid #f0a500;outline-offset:2px}\
footer{max-width:960px;margin:0 auto;padding:16px;color:#555}\
";

/// The one page layout.
pub fn layout(page: &Page<'_>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(page.lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (page.title) " · " (page.site) }
                style { (PreEscaped(STYLE)) }
                @if let Some(head) = &page.head { (head) }
            }
            body {
                a.skip href="#content" { (t(page.lang, "skip-to-content")) }
                header {
                    span.site { (page.site) }
                    @if !page.nav.is_empty() {
                        nav {
                            @for link in &page.nav {
                                @if link.current {
                                    a href=(link.href) aria-current="page" { (link.label) }
                                } @else {
                                    a href=(link.href) { (link.label) }
                                }
                            }
                        }
                    }
                    @if let Some(actions) = &page.actions { (actions) }
                }
                main #content { (content) }
                @if let Some(footer) = &page.footer { footer { (footer) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use reprint_domain::Currency;

    #[test]
    fn the_persons_choice_then_the_browser_then_the_site() {
        assert_eq!(Lang::negotiate(Some("en"), Some("ja"), "ja"), Lang::En);
        assert_eq!(
            Lang::negotiate(None, Some("ja-JP,en;q=0.8"), "en"),
            Lang::Ja
        );
        assert_eq!(
            Lang::negotiate(None, Some("fr-FR, en;q=0.5, ja;q=0.9"), "en"),
            Lang::Ja,
            "by weight, not by order"
        );
        assert_eq!(Lang::negotiate(None, Some("fr, de"), "ja"), Lang::Ja);
        assert_eq!(Lang::negotiate(None, Some("ja;q=0"), "en"), Lang::En);
        assert_eq!(Lang::negotiate(Some("xx"), None, "de"), Lang::En);
    }

    /// The message ids of every `.ftl` file of one language (each page group has its own).
    fn keys_of(lang: &str) -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang);
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "ftl") {
                let file = path.file_name().unwrap().to_string_lossy().to_string();
                let text = std::fs::read_to_string(&path).unwrap();
                keys.extend(
                    text.lines()
                        .filter(|l| !l.starts_with([' ', '#']) && l.contains(" = "))
                        .filter_map(|l| l.split(" = ").next())
                        .map(|k| (k.trim().to_string(), file.clone())),
                );
            }
        }
        keys
    }

    #[test]
    fn every_english_message_is_said_in_japanese_too() {
        let en = keys_of("en");
        assert!(en.len() > 10, "{en:?}");
        let ja: Vec<String> = keys_of("ja").into_iter().map(|(k, _)| k).collect();
        for (key, file) in &en {
            assert!(ja.contains(key), "{key} ({file}) has no Japanese message");
            // Every file of the directory is loaded, not only main.ftl.
            assert!(has_message(Lang::Ja, key), "{key} ({file}) is not loaded");
            assert!(has_message(Lang::En, key), "{key} ({file}) is not loaded");
        }
    }

    #[test]
    fn no_message_id_is_used_by_two_files() {
        for lang in ["en", "ja"] {
            let keys = keys_of(lang);
            for (i, (key, file)) in keys.iter().enumerate() {
                if let Some((_, other)) = keys[i + 1..].iter().find(|(k, _)| k == key) {
                    panic!("{lang}: {key} is in {file} and in {other}");
                }
            }
        }
    }

    #[test]
    fn stages_read_as_words_in_each_language() {
        assert_eq!(stage(Lang::En, Stage::ReadyForPickup), "Ready for pickup");
        assert_eq!(
            stage(Lang::Ja, Stage::ReadyForPickup),
            "お受け取りいただけます"
        );
        for s in [
            Stage::Placed,
            Stage::Received,
            Stage::Printing,
            Stage::Printed,
            Stage::Dispatched,
            Stage::ReadyForPickup,
            Stage::Collected,
            Stage::Settled,
            Stage::Rejected,
            Stage::Cancelled,
        ] {
            for lang in Lang::ALL {
                let words = stage(lang, s);
                assert!(
                    words != s.as_str() && !words.contains('_') && !words.contains("stage-"),
                    "{lang:?} {s:?}: {words}"
                );
                assert!(has_message(lang, &format!("stage-{}", s.as_str())), "{s:?}");
            }
        }
    }

    #[test]
    fn plurals_follow_the_language() {
        assert_eq!(
            t_with(Lang::En, "prints", &[("count", 1.into())]),
            "1 print"
        );
        assert_eq!(
            t_with(Lang::En, "prints", &[("count", 3.into())]),
            "3 prints"
        );
        assert_eq!(t_with(Lang::Ja, "prints", &[("count", 3.into())]), "3 枚");
    }

    #[test]
    fn money_as_people_write_it() {
        let jpy = Currency::parse("JPY").unwrap();
        let eur = Currency::parse("EUR").unwrap();
        let chf = Currency::parse("CHF").unwrap();
        assert_eq!(money(Lang::Ja, Money::new(250, jpy)), "¥250");
        assert_eq!(money(Lang::En, Money::new(1_234_567, jpy)), "¥1,234,567");
        assert_eq!(money(Lang::En, Money::new(1250, eur)), "€12.50");
        assert_eq!(money(Lang::En, Money::new(-5, eur)), "-€0.05");
        assert_eq!(money(Lang::En, Money::new(100_000, chf)), "1,000.00 CHF");
    }

    #[test]
    fn times_in_the_sites_zone_to_the_minute() {
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 8, 3, 59).unwrap();
        let tokyo = chrono_tz::Asia::Tokyo;
        assert_eq!(local_time(Lang::En, tokyo, at), "3 Dec 2026, 17:03");
        assert_eq!(local_time(Lang::Ja, tokyo, at), "2026年12月3日 17:03");
    }

    #[test]
    fn the_layout_escapes_what_it_is_given_and_says_its_language() {
        let page = Page {
            lang: Lang::Ja,
            title: "<script>alert(1)</script>",
            site: "Lab A",
            nav: vec![NavLink {
                href: "/orders".into(),
                label: t(Lang::Ja, "nav-orders"),
                current: true,
            }],
            head: None,
            actions: None,
            footer: None,
        };
        let out = layout(&page, html! { p { "\"quoted\" & <b>" } }).into_string();
        assert!(
            out.starts_with("<!DOCTYPE html><html lang=\"ja\">"),
            "{out}"
        );
        assert!(
            out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{out}"
        );
        assert!(!out.contains("<script>alert"), "{out}");
        assert!(out.contains("&quot;quoted&quot; &amp; &lt;b&gt;"), "{out}");
        assert!(out.contains("aria-current=\"page\">ご注文</a>"), "{out}");
        assert!(out.contains("width=device-width"), "{out}");
    }
}

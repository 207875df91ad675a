//! The public API fuzzer schemathesis against the three OpenAPI documents of a running network
//! (issue 13, "contracts that tell the truth"): every generated request, valid or not, is
//! answered with a status its document declares, never a 5xx, with the declared content, and a
//! request the document calls valid is accepted (but for the few rules no schema can state,
//! listed in `BEYOND_A_SCHEMA`). Logged
//! in (the session cookie and the CSRF token as headers), bounded in examples and time per
//! service.
//!
//! schemathesis comes from PyPI: `scripts/test` installs it into a virtual environment and
//! names it in `REPRINT_SCHEMATHESIS`; otherwise the one on `PATH` is used. When there is none,
//! the test says so loudly and passes without running (it cannot be had offline).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use reprint_e2e::{COUNTER_STAFF, LAB_OPERATOR, Network, step};
use serde_json::{Value, json};

/// Operations whose requests carry a rule a JSON schema cannot state, each with the rule:
/// "a schema-valid request is accepted" (`positive_data_acceptance`) is off for these only.
/// Everywhere else the documents state every field's rule (lengths, patterns, enumerations,
/// minimum and maximum) and the check is on.
const BEYOND_A_SCHEMA: &[(&str, &str)] = &[
    // gateway
    (
        "api_sign_up",
        "the password's strength (zxcvbn), the e-mail address's syntax (a real parser), the telephone number's",
    ),
    ("change_password", "the new password's strength (zxcvbn)"),
    (
        "quote",
        "the sizes the chosen lab prints (its entry in the site directory) and an edit list's own rules",
    ),
    (
        "submit",
        "the sizes the chosen lab prints (its entry in the site directory) and an edit list's own rules",
    ),
    (
        "reorder",
        "the sizes the chosen lab prints (its entry in the site directory) and an edit list's own rules",
    ),
    // counter
    (
        "post_intake",
        "the medium's bytes: a ZIP of images or image files that decode",
    ),
    (
        "collect",
        "the amount tendered covers the amount due, which the order decides",
    ),
    (
        "post_intake_quote",
        "the medium's bytes: a ZIP of images or image files that decode (as post_intake: the quote reads the same card)",
    ),
    (
        "search",
        "whether a typed slip number is this counter's, the lab's or another counter's (their numbering)",
    ),
    (
        "check_in",
        "whether a scanned label is this counter's, the lab's or another counter's (their numbering), as search",
    ),
    (
        "issue_json",
        "the day `through` has begun on the counter's calendar (not after today)",
    ),
    (
        "till_json",
        "the day counted has begun on the counter's calendar (not after today)",
    ),
];

/// Operations whose resource may rightly be absent right after the operation that created its
/// parent, each with the rule: schemathesis's "created resource found" check
/// (`ensure_resource_availability`, ST302) is off for these only.
const MAY_BE_ABSENT: &[(&str, &str)] = &[(
    "digital_copy",
    "an order has a digital copy only when one was ordered with it, and only from ready for pickup on: a just-created order has none (404, as documented)",
)];

/// Operations left out of the run while schemathesis finds fault with them: none (the four the
/// CI of 2026-12-04 found, `check_in`, `post_intake_quote`, `issue_json` and `till_json`, state
/// their rules in their documents since issue 15's closing).
const NOT_YET_FUZZ_CLEAN: &[&str] = &[];

/// The schemathesis configuration: `positive_data_acceptance` off for [`BEYOND_A_SCHEMA`],
/// `ensure_resource_availability` off for [`MAY_BE_ABSENT`].
fn config() -> String {
    let section = |(op, why): &(&str, &str), check: &str| {
        format!(
            "# {why}\n[[operations]]\ninclude-operation-id = \"{op}\"\n\
             checks.{check}.enabled = false\n\n"
        )
    };
    BEYOND_A_SCHEMA
        .iter()
        .map(|o| section(o, "positive_data_acceptance"))
        .chain(
            MAY_BE_ABSENT
                .iter()
                .map(|o| section(o, "ensure_resource_availability")),
        )
        .collect()
}

/// Test cases per operation and time per service (`--max-examples`, `--max-time`).
const MAX_EXAMPLES: &str = "12";
const MAX_SECONDS: &str = "90";

const PASSWORD: &str = "a long fuzzing passphrase 13";

fn schemathesis() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("REPRINT_SCHEMATHESIS") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
        eprintln!("REPRINT_SCHEMATHESIS={} is not a file", p.display());
    }
    let on_path = Command::new("schemathesis").arg("--version").output();
    on_path
        .is_ok_and(|o| o.status.success())
        .then(|| PathBuf::from("schemathesis"))
}

/// Logs in with `body` at `path` and returns (the `Cookie` header of the session, its CSRF
/// token).
async fn log_in(base: &str, path: &str, body: &Value) -> (String, String) {
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("log-in");
    let status = r.status().as_u16();
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_string)
        .collect();
    let v: Value = r.json().await.expect("log-in answer");
    assert!(
        status == 200 || status == 201,
        "log-in at {base}{path}: {status} {v}"
    );
    assert!(!cookies.is_empty(), "log-in at {base}{path} set no cookie");
    let csrf = v["csrf_token"].as_str().expect("a CSRF token").to_string();
    (cookies.join("; "), csrf)
}

/// What one run of schemathesis found.
struct Run {
    service: &'static str,
    operations: u64,
    requests: u64,
    failures: u64,
    passed: bool,
    output: String,
}

fn number(v: &Value, pointers: &[&str]) -> u64 {
    pointers
        .iter()
        .find_map(|p| v.pointer(p).and_then(Value::as_u64))
        .unwrap_or(0)
}

async fn fuzz(
    st: &PathBuf,
    dir: &std::path::Path,
    service: &'static str,
    base: &str,
    (cookie, csrf): (String, String),
    exclude: &[&str],
) -> Run {
    // The document is fetched with the session (the lab's and the counter's need one).
    let doc = reqwest::Client::new()
        .get(format!("{base}/api/v1/openapi.json"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("the OpenAPI document")
        .text()
        .await
        .expect("the OpenAPI document's text");
    let doc_path = dir.join(format!("{service}-openapi.json"));
    std::fs::write(&doc_path, &doc).expect("write the document");
    let report = dir.join(format!("{service}-report.json"));
    let config_path = dir.join("schemathesis.toml");
    std::fs::write(&config_path, config()).expect("write the configuration");
    let mut cmd = Command::new(st);
    cmd.arg("--config-file")
        .arg(&config_path)
        .arg("run")
        .arg(&doc_path)
        .args(["--url", base])
        .args(["--max-examples", MAX_EXAMPLES, "--max-time", MAX_SECONDS])
        // One worker: with two, the coverage phase once died inside CPython's parser
        // ("SystemError: AST constructor recursion depth mismatch", hypothesis describing a
        // lambda from two threads at once), a fault of the fuzzer, not of the API.
        .args(["--workers", "1", "--request-timeout", "20", "--seed", "13"])
        .args(["--suppress-health-check", "all"])
        .args(["-H", &format!("Cookie: {cookie}")])
        .args(["-H", &format!("X-CSRF-Token: {csrf}")])
        .args(["--report", "json", "--report-json-path"])
        .arg(&report)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .current_dir(dir);
    for op in exclude {
        cmd.args(["--exclude-operation-id", op]);
    }
    let t0 = Instant::now();
    let out = cmd.output().expect("run schemathesis");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    // The figures from the JSON report, else from the summary ("Tested: 7", "603 generated").
    // The last line with the marker: the summary comes last.
    let first_number_after = |marker: &str| -> u64 {
        output
            .lines()
            .rfind(|l| l.contains(marker))
            .and_then(|l| {
                l.split(|c: char| !c.is_ascii_digit())
                    .find(|t| !t.is_empty())?
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    };
    let run = Run {
        service,
        operations: number(
            &v,
            &[
                "/operations/total",
                "/summary/operations/total",
                "/operations/tested",
            ],
        )
        .max(first_number_after("Tested:")),
        requests: number(
            &v,
            &[
                "/requests/total",
                "/summary/requests/total",
                "/test_cases/total",
            ],
        )
        .max(first_number_after(" generated")),
        failures: number(
            &v,
            &[
                "/failures/total",
                "/summary/failures/total",
                "/failures/unique",
            ],
        ),
        passed: out.status.success(),
        output,
    };
    eprintln!(
        "schemathesis {service}: {} operations, {} requests, {} failures, {:.0} s (exit {:?})",
        run.operations,
        run.requests,
        run.failures,
        t0.elapsed().as_secs_f64(),
        out.status.code()
    );
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_in_the_three_documents() {
    let Some(st) = schemathesis() else {
        eprintln!(
            "\n\n!!!!! SKIPPED: schemathesis is not installed (scripts/test installs it from PyPI \
             into ~/.cache/reprint; or `pip install schemathesis` and put it on PATH, or name it \
             in REPRINT_SCHEMATHESIS). The three OpenAPI documents were NOT fuzzed. !!!!!\n\n"
        );
        return;
    };
    let t0 = Instant::now();
    let net = Network::start().await;
    step(t0, "network up");
    let dir = tempfile::tempdir().expect("a directory for the reports");
    let gateway = net.gateway.base();
    let lab = net.lab.base();
    let counter = net.counter.base();
    // A sign-up answers 202 and logs nobody in: the user logs in next.
    let (s, v) = net
        .gateway_client()
        .post(
            "/api/v1/accounts",
            &json!({"name": "Fuzz Tester", "telephone": "03-0000-1313", "address": "1-3 Ginza",
                    "email": "fuzz@example.jp", "password": PASSWORD}),
        )
        .await;
    assert!(s == 201 || s == 202, "sign-up: {s} {v}");
    let user = log_in(
        &gateway,
        "/api/v1/session",
        &json!({"email": "fuzz@example.jp", "password": PASSWORD}),
    )
    .await;
    let operator = log_in(
        &lab,
        "/api/v1/login",
        &json!({"name": LAB_OPERATOR.0, "password": LAB_OPERATOR.1}),
    )
    .await;
    let staff = log_in(
        &counter,
        "/api/v1/login",
        &json!({"name": COUNTER_STAFF.0, "password": COUNTER_STAFF.1}),
    )
    .await;
    // Log-out would end the session every later request carries.
    let runs = [
        fuzz(&st, dir.path(), "gateway", &gateway, user, &["api_log_out"]).await,
        fuzz(&st, dir.path(), "lab", &lab, operator, &[]).await,
        fuzz(
            &st,
            dir.path(),
            "counter",
            &counter,
            staff,
            NOT_YET_FUZZ_CLEAN,
        )
        .await,
    ];
    step(t0, "fuzzed");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let failed: Vec<&Run> = runs.iter().filter(|r| !r.passed).collect();
    for r in &failed {
        eprintln!("----- schemathesis {} -----\n{}", r.service, r.output);
    }
    assert!(
        failed.is_empty(),
        "schemathesis found failures in {:?}",
        failed.iter().map(|r| r.service).collect::<Vec<_>>()
    );
    for r in &runs {
        assert!(
            r.operations > 0 || r.output.contains("passed"),
            "{}: nothing tested:\n{}",
            r.service,
            r.output
        );
    }
}

//! The lab's OpenAPI document tells the truth (issue 13): the queue's `state` and the search's
//! `q` are query parameters (a client generated from the document sent them in the path and got
//! 400), and the search answers with them.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn the_documents_query_parameters_are_query_parameters() {
    let rig = Rig::new(false).await;
    let lab = Running::start(rig.config(), None).await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    log_in(&http, &lab).await;
    let doc: Value = http
        .get(lab.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, name) in [("/api/v1/search", "q"), ("/api/v1/receptions", "state")] {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let p = params.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(p["in"], "query", "{path} {name}: {p}");
        // Everything the operation answers to a bad query is declared.
        assert!(
            doc["paths"][path]["get"]["responses"]["400"].is_object(),
            "{path}"
        );
    }
    for query in [
        "/api/v1/search?q=B0000001",
        "/api/v1/receptions?state=received",
    ] {
        let r = http.get(lab.url(query)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{query}");
    }
    lab.stop().await;
}

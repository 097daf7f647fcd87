//! The test clock: off (404) on a normal server; with `--test-clock`,
//! moved forward only, within bounds.

mod support;

use serde_json::json;
use support::{Api, TestServer};

#[tokio::test]
async fn the_clock_moves_only_on_a_test_server() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let (status, _) = api
        .call(
            "POST",
            "/api/test/clock",
            None,
            Some(json!({"advanceSecs": 60})),
        )
        .await;
    assert_eq!(status, 404);

    let server = TestServer::start_with(&["--test-clock"]);
    let api = Api::new(&server);
    let (status, body) = api
        .call(
            "POST",
            "/api/test/clock",
            None,
            Some(json!({"advanceSecs": 0})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let before = body["data"]["now"].as_str().unwrap().to_owned();
    let (status, body) = api
        .call(
            "POST",
            "/api/test/clock",
            None,
            Some(json!({"advanceSecs": 86400})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let after = body["data"]["now"].as_str().unwrap().to_owned();
    assert!(after > before, "{after} after {before}");
    for bad in [json!({"advanceSecs": -5}), json!({"advanceSecs": 1e12})] {
        let (status, _) = api.call("POST", "/api/test/clock", None, Some(bad)).await;
        assert!(status == 422, "{status}");
    }
}

//! Online time on a clock the test moves: connected time counts per UTC
//! day (today and the last 7 days), offline time and downtime do not, and
//! `goal_exceeded` reaches the user's socket once a day when today's time
//! passes their goal.

mod support;

use serde_json::{json, Value};
use support::{Api, TestServer, User, Ws};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Presence goes offline 50 ms after the last socket closes.
const ARGS: &[&str] = &["--test-clock", "--presence-grace-ms", "50"];

/// Moves the server's clock; returns its new time.
async fn advance(api: &Api, secs: i64) -> OffsetDateTime {
    OffsetDateTime::parse(&api.advance_clock(secs).await, &Rfc3339).unwrap()
}

/// `YYYY-MM-DD` of a time (UTC).
fn date_of(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// Moves the clock to a minute past the next UTC midnight, so the test's
/// minutes all fall on one day whenever it runs; returns the seconds moved.
async fn to_next_midnight(api: &Api) -> i64 {
    let now = advance(api, 0).await;
    let since_midnight =
        i64::from(now.hour()) * 3600 + i64::from(now.minute()) * 60 + i64::from(now.second());
    let secs = 86_400 - since_midnight + 60;
    advance(api, secs).await;
    secs
}

async fn today(api: &Api, user: &User) -> Value {
    let (status, body) = api.get("/api/me/online-time/today", &user.token).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn minutes_today(api: &Api, user: &User) -> u64 {
    today(api, user).await["minutes"].as_u64().unwrap()
}

async fn week(api: &Api, user: &User) -> Vec<Value> {
    let (status, body) = api.get("/api/me/online-time/week", &user.token).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["days"].as_array().unwrap().clone()
}

async fn put_goal(api: &Api, user: &User, body: Value) -> (u16, Value) {
    api.call("PUT", "/api/me/goal", Some(&user.token), Some(body))
        .await
}

async fn goal(api: &Api, user: &User) -> Value {
    let (status, body) = api.get("/api/me/goal", &user.token).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["minutes"].clone()
}

/// Waits until `watcher` sees `user` go `status` (online or offline).
async fn wait_presence(watcher: &mut Ws, user: &User, status: &str) {
    loop {
        let f = watcher.next_of("presence").await;
        if f["userId"] == user.id && f["status"] == status {
            return;
        }
    }
}

/// alice, and bob sharing a room with her and watching her presence: her
/// interval is closed by the time bob hears she is offline.
async fn alice_watched_by_bob(server: &TestServer, api: &Api) -> (User, Ws) {
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    api.room(&alice, &[&bob]).await;
    let bob_ws = Ws::connect(server, &bob).await.with_presence();
    (alice, bob_ws)
}

async fn connect(server: &TestServer, alice: &User, bob_ws: &mut Ws) -> Ws {
    let ws = Ws::connect(server, alice).await;
    wait_presence(bob_ws, alice, "online").await;
    ws
}

async fn disconnect(ws: Ws, alice: &User, bob_ws: &mut Ws) {
    ws.close().await;
    wait_presence(bob_ws, alice, "offline").await;
}

#[tokio::test]
async fn connected_time_counts_per_day_and_offline_time_does_not() {
    let server = TestServer::start_with(ARGS);
    let api = Api::new(&server);
    let (alice, mut bob_ws) = alice_watched_by_bob(&server, &api).await;
    to_next_midnight(&api).await;
    assert_eq!(minutes_today(&api, &alice).await, 0);

    let ws = connect(&server, &alice, &mut bob_ws).await;
    let now = advance(&api, 600).await;
    let day = today(&api, &alice).await;
    assert_eq!(day["minutes"], 10, "{day}");
    let date = date_of(now);
    assert_eq!(day["date"], date.as_str());
    assert_eq!(day["goalMinutes"], Value::Null);
    let days = week(&api, &alice).await;
    assert_eq!(days.len(), 7);
    assert_eq!(days[6], json!({"date": date, "minutes": 10}));
    assert!(days[..6].iter().all(|d| d["minutes"] == 0), "{days:?}");
    let dates: Vec<&str> = days.iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert!(
        dates.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {dates:?}"
    );

    disconnect(ws, &alice, &mut bob_ws).await;
    advance(&api, 3600).await;
    assert_eq!(minutes_today(&api, &alice).await, 10, "offline time");

    let ws = connect(&server, &alice, &mut bob_ws).await;
    advance(&api, 300).await;
    assert_eq!(minutes_today(&api, &alice).await, 15);
    assert_eq!(week(&api, &alice).await[6]["minutes"], 15);
    disconnect(ws, &alice, &mut bob_ws).await;

    let (status, _) = api
        .call("GET", "/api/me/online-time/today", None, None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_goal_is_checked_and_a_bad_one_changes_nothing() {
    let server = TestServer::start_with(ARGS);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    assert_eq!(goal(&api, &alice).await, Value::Null);
    let (status, body) = put_goal(&api, &alice, json!({"minutes": 90})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"minutes": 90}));
    for bad in [
        json!({"minutes": 0}),
        json!({"minutes": 1441}),
        json!({"minutes": -5}),
        json!({"minutes": 4294967386u64}),
        json!({"minutes": 15.5}),
        json!({"minutes": "15"}),
        json!({}),
        json!({"minutes": 15, "hours": 1}),
    ] {
        let (status, body) = put_goal(&api, &alice, bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(goal(&api, &alice).await, 90, "{bad} changed the goal");
    }
    let (status, body) = put_goal(&api, &alice, json!({"minutes": 0})).await;
    assert_eq!(body["errors"][0]["name"], "minutes", "{body}");
    assert_eq!(status, 422);
    let (status, _) = api
        .call("PUT", "/api/me/goal", None, Some(json!({"minutes": 10})))
        .await;
    assert_eq!(status, 401);
    assert_eq!(goal(&api, &alice).await, 90);

    let (status, body) = put_goal(&api, &alice, json!({"minutes": null})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"minutes": null}));
    assert_eq!(goal(&api, &alice).await, Value::Null);
    assert_eq!(today(&api, &alice).await["goalMinutes"], Value::Null);
    let (status, _) = put_goal(&api, &alice, json!({"minutes": 1440})).await;
    assert_eq!(status, 200);
    assert_eq!(today(&api, &alice).await["goalMinutes"], 1440);
}

#[tokio::test]
async fn goal_exceeded_reaches_the_socket_once_a_day() {
    let server = TestServer::start_with(ARGS);
    let api = Api::new(&server);
    let (alice, mut bob_ws) = alice_watched_by_bob(&server, &api).await;
    to_next_midnight(&api).await;
    let (status, _) = put_goal(&api, &alice, json!({"minutes": 15})).await;
    assert_eq!(status, 200);

    let mut ws = connect(&server, &alice, &mut bob_ws).await;
    let now = advance(&api, 600).await;
    ws.expect_quiet().await;
    advance(&api, 360).await;
    let f = ws.next_frame().await;
    let date = date_of(now);
    assert_eq!(
        f,
        json!({"type": "goal_exceeded", "date": date, "goalMinutes": 15, "minutes": 16})
    );
    advance(&api, 600).await;
    ws.expect_quiet().await;

    // Not again the same day: not later, not on a new socket, not for a
    // new goal.
    disconnect(ws, &alice, &mut bob_ws).await;
    let mut ws = connect(&server, &alice, &mut bob_ws).await;
    advance(&api, 600).await;
    let (status, _) = put_goal(&api, &alice, json!({"minutes": 20})).await;
    assert_eq!(status, 200);
    advance(&api, 60).await;
    ws.expect_quiet().await;
    // Nor to anyone else.
    bob_ws.expect_quiet().await;

    // The next day the timer runs again, and a goal change re-arms it: a
    // goal already passed is reported at once.
    to_next_midnight(&api).await;
    ws.expect_quiet().await;
    let (status, _) = put_goal(&api, &alice, json!({"minutes": 1})).await;
    assert_eq!(status, 200);
    let f = ws.next_frame().await;
    assert_eq!(f["type"], "goal_exceeded", "{f}");
    assert_eq!(f["goalMinutes"], 1);
    assert_eq!(f["minutes"], 1);
    assert!(f["date"].as_str().unwrap() > date.as_str(), "{f}");
    advance(&api, 600).await;
    ws.expect_quiet().await;
}

/// Reads the event stream until an event of type `event`; its data.
async fn next_event(resp: &mut reqwest::Response, buf: &mut String, event: &str) -> Value {
    let head = format!("event: {event}\n");
    loop {
        if let Some(at) = buf.find(&head) {
            let rest = &buf[at + head.len()..];
            if let Some(end) = rest.find("\n\n") {
                let data = rest[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("data line");
                let data = serde_json::from_str(data).expect("JSON data");
                buf.drain(..at + head.len() + end);
                return data;
            }
        }
        let chunk = tokio::time::timeout(support::WAIT, resp.chunk())
            .await
            .expect("timed out waiting for an event")
            .expect("stream error")
            .expect("stream ended");
        buf.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
    }
}

#[tokio::test]
async fn goal_exceeded_also_reaches_an_event_stream() {
    let server = TestServer::start_with(ARGS);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    to_next_midnight(&api).await;
    put_goal(&api, &alice, json!({"minutes": 5})).await;
    let mut resp = api
        .client
        .get(server.url("/api/events"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut buf = String::new();
    next_event(&mut resp, &mut buf, "ready").await;
    advance(&api, 360).await;
    let data = next_event(&mut resp, &mut buf, "goal_exceeded").await;
    assert_eq!(data["type"], "goal_exceeded");
    assert_eq!(data["goalMinutes"], 5);
    assert_eq!(data["minutes"], 6);
}

/// Starts again on the same data directory, with the clock moved to where
/// the last server's was (`ahead` seconds past real time).
async fn restart(dir: &tempfile::TempDir, ahead: i64) -> (TestServer, Api) {
    let server = TestServer::start_in(dir.path(), ARGS);
    let api = Api::new(&server);
    advance(&api, ahead).await;
    (server, api)
}

#[tokio::test]
async fn a_restart_does_not_count_the_downtime_as_online() {
    let mut server = TestServer::start_with(ARGS);
    let dir = server.take_dir().unwrap();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let mut ahead = to_next_midnight(&api).await;

    // Stopped while she is online: her interval ends at the shutdown.
    let _ws = Ws::connect(&server, &alice).await;
    ahead += 600;
    advance(&api, 600).await;
    assert_eq!(minutes_today(&api, &alice).await, 10);
    assert!(server.terminate().success());
    let (mut server, api) = restart(&dir, ahead).await;
    ahead += 1800;
    advance(&api, 1800).await;
    assert_eq!(minutes_today(&api, &alice).await, 10, "downtime counted");

    // Killed while she is online: her interval ends at the last heartbeat,
    // somewhere in the 10 minutes she was online.
    let _ws = Ws::connect(&server, &alice).await;
    ahead += 600;
    advance(&api, 600).await;
    assert_eq!(minutes_today(&api, &alice).await, 20);
    server.kill();
    let (server, api) = restart(&dir, ahead).await;
    advance(&api, 1800).await;
    let minutes = minutes_today(&api, &alice).await;
    assert!((10..=20).contains(&minutes), "{minutes} minutes");
    assert_eq!(week(&api, &alice).await[6]["minutes"], minutes);

    // Online again after the restart counts as usual.
    let _ws = Ws::connect(&server, &alice).await;
    advance(&api, 300).await;
    assert_eq!(minutes_today(&api, &alice).await, minutes + 5);
}

//! Bots and the Messaging API: admin-made bots post into their rooms with a
//! bot token, and their webhooks get signed deliveries with retries.

mod support;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use support::{assert_bad_query, with_query, Api, Pair, TestServer, Ws, ADMIN_ARGS, WAIT};
use tokio::sync::mpsc;

/// Creates a bot as the admin; returns (id, token).
async fn make_bot(api: &Api, name: &str) -> (i64, String) {
    let admin = api.admin_token().await;
    let (status, body) = api
        .post("/api/admin/bots", &admin, json!({"name": name}))
        .await;
    assert_eq!(status, 201, "{body}");
    let bot = &body["data"];
    (
        bot["id"].as_i64().expect("bot id"),
        bot["token"].as_str().expect("bot token").to_owned(),
    )
}

async fn add_to_room(api: &Api, owner: &support::User, room: i64, user_id: i64) {
    let (status, body) = api
        .post(
            &format!("/api/rooms/{room}/participants"),
            &owner.token,
            json!({"userId": user_id}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_bot_posts_into_its_rooms_only() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(ADMIN_ARGS).await;
    let (bot, token) = make_bot(&api, "Helper").await;
    add_to_room(&api, &alice, room, bot).await;
    let mut ws = Ws::connect(&server, &bob).await;

    let message_id = "0190f0a0-0000-7000-8000-000000000001";
    let post = json!({"roomId": room, "content": "hello from a bot", "messageId": message_id});
    let (status, body) = api.post("/api/bot/messages", &token, post.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["senderId"], bot);
    let frame = ws.next_of("message_created").await;
    assert_eq!(frame["message"]["senderId"], bot);
    assert_eq!(frame["message"]["content"], "hello from a bot");
    assert_eq!(frame["message"]["seq"], body["data"]["seq"]);

    // A retry stores nothing new.
    let (status, again) = api.post("/api/bot/messages", &token, post).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["data"]["seq"], body["data"]["seq"]);

    let (status, rooms) = api.get("/api/bot/rooms", &token).await;
    assert_eq!(status, 200, "{rooms}");
    assert_eq!(rooms["data"].as_array().unwrap().len(), 1);
    assert_eq!(rooms["data"][0]["id"], room);

    // A room the bot is not in, and one that does not exist: both 404.
    let other = api.room(&alice, &[&bob]).await;
    for room_id in [other, 999_999] {
        let (status, body) = api
            .post(
                "/api/bot/messages",
                &token,
                json!({"roomId": room_id, "content": "x"}),
            )
            .await;
        assert_eq!(status, 404, "{body}");
    }

    // User tokens are not bot tokens, bot tokens are not user tokens.
    let (status, _) = api
        .post(
            "/api/bot/messages",
            &alice.token,
            json!({"roomId": room, "content": "x"}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = api.call("GET", "/api/bot/rooms", None, None).await;
    assert_eq!(status, 401);
    for path in ["/api/me", "/api/rooms"] {
        let (status, _) = api.get(path, &token).await;
        assert_eq!(status, 401, "{path} with a bot token");
    }
    let (status, _) = api
        .post(
            &format!("/api/rooms/{room}/messages"),
            &token,
            json!({"content": "x"}),
        )
        .await;
    assert_eq!(status, 401);

    // Rotation: the old token stops working, the new one works.
    let admin = api.admin_token().await;
    let (status, body) = api
        .post(&format!("/api/admin/bots/{bot}/token"), &admin, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let new_token = body["data"]["token"].as_str().unwrap().to_owned();
    let post = json!({"roomId": room, "content": "after rotation"});
    let (status, _) = api.post("/api/bot/messages", &token, post.clone()).await;
    assert_eq!(status, 401);
    let (status, body) = api.post("/api/bot/messages", &new_token, post).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn the_admin_manages_bots() {
    let server = TestServer::start_with(ADMIN_ARGS);
    let api = Api::new(&server);
    let admin = api.admin_token().await;
    let (bot, _) = make_bot(&api, "Helper").await;

    let (status, body) = api.post("/api/admin/bots", &admin, json!({})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = api.get("/api/admin/bots", &admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["id"], bot);
    assert!(
        body["data"][0].get("token").is_none(),
        "the token is shown once"
    );
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/api/admin/bots/{bot}"),
            Some(&admin),
            Some(json!({"name": "Renamed", "avatar": "a.png"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "Renamed");
    assert_eq!(body["data"]["avatar"], "a.png");
    let (status, body) = api
        .call(
            "DELETE",
            &format!("/api/admin/bots/{bot}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = api.get(&format!("/api/admin/bots/{bot}"), &admin).await;
    assert_eq!(status, 404);
    // Users are not bots.
    let alice = api.user("alice").await;
    let (status, _) = api
        .get(&format!("/api/admin/bots/{}", alice.id), &admin)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bot_admin_endpoints_do_not_exist_without_an_admin() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    for (method, path) in [
        ("POST", "/api/admin/bots"),
        ("GET", "/api/admin/bots"),
        ("GET", "/api/admin/bots/1"),
        ("POST", "/api/admin/bots/1/token"),
        ("PUT", "/api/admin/bots/1/webhook"),
        ("GET", "/api/admin/bots/1/deliveries"),
    ] {
        let (status, body) = api
            .call(method, path, Some(&alice.token), Some(json!({})))
            .await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
}

/// One request a webhook receiver got.
struct Hit {
    headers: HeaderMap,
    body: Bytes,
}

/// A webhook receiver on 127.0.0.1:0 that answers with `statuses` in turn,
/// then 200.
async fn receiver(statuses: &[u16]) -> (String, mpsc::UnboundedReceiver<Hit>) {
    receiver_at("127.0.0.1:0", statuses).await
}

async fn receiver_at(addr: &str, statuses: &[u16]) -> (String, mpsc::UnboundedReceiver<Hit>) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let statuses = Arc::new(Mutex::new(
        statuses.iter().copied().collect::<VecDeque<_>>(),
    ));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (tx, statuses) = (tx.clone(), statuses.clone());
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (tx, statuses) = (tx.clone(), statuses.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let _ = tx.send(Hit {
                            headers: parts.headers,
                            body,
                        });
                        let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
                        Ok::<_, hyper::Error>(
                            Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, rx)
}

async fn next_hit(rx: &mut mpsc::UnboundedReceiver<Hit>) -> Hit {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("timed out waiting for a webhook delivery")
        .expect("receiver stopped")
}

/// Checks the signature the way a receiver would; returns the body.
fn verified(hit: &Hit, secret: &str) -> Value {
    let header = |name: &str| hit.headers.get(name).unwrap().to_str().unwrap().to_owned();
    let timestamp = header("x-palaver-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&hit.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(header("x-palaver-signature"), format!("v1={expected}"));
    serde_json::from_slice(&hit.body).unwrap()
}

#[tokio::test]
async fn webhooks_are_signed_retried_and_visible_to_the_admin() {
    let mut args = ADMIN_ARGS.to_vec();
    args.extend([
        "--webhook-retry-base-ms",
        "50",
        "--webhook-allow-private-hosts",
    ]);
    // `server` is bound so that it lives until the end of the test.
    let Pair {
        server: _server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(&args).await;
    let (bot, token) = make_bot(&api, "Hook").await;
    add_to_room(&api, &alice, room, bot).await;
    let (url, mut hits) = receiver(&[500]).await;

    let (status, _) = set_webhook(&api, &bob.token, &url).await;
    assert_eq!(status, 401, "a user token cannot set a webhook");
    let (status, body) = set_webhook(&api, &token, "https://example.test/hook").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = set_webhook(&api, &token, &url).await;
    assert_eq!(status, 200, "{body}");
    let secret = body["data"]["secret"].as_str().unwrap().to_owned();

    // The bot's own message is not sent back to it.
    let (status, _) = api
        .post(
            "/api/bot/messages",
            &token,
            json!({"roomId": room, "content": "mine"}),
        )
        .await;
    assert_eq!(status, 201);
    let posted = api.say(&bob, room, "ping bot").await;

    // First attempt: the receiver answers 500. Then the retry.
    let first = next_hit(&mut hits).await;
    let second = next_hit(&mut hits).await;
    assert_eq!(
        first.headers["x-palaver-delivery"], second.headers["x-palaver-delivery"],
        "a retry is the same delivery"
    );
    let body = verified(&second, &secret);
    assert_eq!(body["event"], "message_created");
    assert_eq!(body["message"]["content"], "ping bot");
    assert_eq!(body["message"]["seq"], posted["seq"]);
    assert_eq!(body["room"]["id"], room);
    assert_eq!(second.headers["x-palaver-event"], "message_created");

    // The next one arrives in order, on the first attempt.
    api.say(&alice, room, "second").await;
    let body = verified(&next_hit(&mut hits).await, &secret);
    assert_eq!(body["message"]["content"], "second");

    // The admin sees the failed attempt and the counts.
    let admin = api.admin_token().await;
    let (list, details) = wait_for_deliveries(&api, &admin, bot, |list, d| {
        list.first().is_some_and(|x| x["status"] == "delivered")
            && d["deliveries"]["delivered"] == 2
    })
    .await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["attempts"], 2);
    assert_eq!(list[0]["seq"], posted["seq"]);
    assert!(
        list[0]["lastError"].as_str().unwrap().contains("500"),
        "{list:?}"
    );
    assert_eq!(details["webhook"]["url"], url.as_str());
    assert!(details["webhook"].get("secret").is_none());

    // Removing the webhook stops deliveries.
    let (status, _) = api
        .call("DELETE", "/api/bot/webhook", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    let (_, me) = api.get("/api/bot/me", &token).await;
    assert_eq!(me["data"]["webhook"], Value::Null);
}

/// Polls the admin's view of a bot until `done` holds for (deliveries,
/// bot details); fails the test after WAIT.
async fn wait_for_deliveries(
    api: &Api,
    admin: &str,
    bot: i64,
    done: impl Fn(&[Value], &Value) -> bool,
) -> (Vec<Value>, Value) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, list) = api
            .get(&format!("/api/admin/bots/{bot}/deliveries"), admin)
            .await;
        assert_eq!(status, 200, "{list}");
        let (status, details) = api.get(&format!("/api/admin/bots/{bot}"), admin).await;
        assert_eq!(status, 200, "{details}");
        let list = list["data"].as_array().unwrap().clone();
        let details = details["data"].clone();
        if done(&list, &details) {
            return (list, details);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries never settled: {list:?} {details}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_delivery_is_given_up_after_the_last_attempt_and_the_next_goes_on() {
    let mut args = ADMIN_ARGS.to_vec();
    args.extend([
        "--webhook-retry-base-ms",
        "20",
        "--webhook-max-attempts",
        "2",
        "--webhook-allow-private-hosts",
    ]);
    let Pair {
        server: _server,
        api,
        alice,
        room,
        ..
    } = Pair::start_with(&args).await;
    let (bot, token) = make_bot(&api, "Hook").await;
    add_to_room(&api, &alice, room, bot).await;
    let (url, mut hits) = receiver(&[500, 503]).await;
    let (status, body) = set_webhook(&api, &token, &url).await;
    assert_eq!(status, 200, "{body}");

    let lost = api.say(&alice, room, "lost").await;
    api.say(&alice, room, "kept").await;
    for expected in ["lost", "lost", "kept"] {
        let hit = next_hit(&mut hits).await;
        let body: Value = serde_json::from_slice(&hit.body).unwrap();
        assert_eq!(body["message"]["content"], expected);
    }
    let admin = api.admin_token().await;
    let (list, details) =
        wait_for_deliveries(&api, &admin, bot, |_, d| d["deliveries"]["delivered"] == 1).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "failed");
    assert_eq!(list[0]["seq"], lost["seq"]);
    assert_eq!(list[0]["attempts"], 2);
    assert_eq!(list[0]["nextAttemptAt"], Value::Null);
    assert!(list[0]["lastError"].as_str().unwrap().contains("503"));
    assert_eq!(details["deliveries"]["failed"], 1);
    assert_eq!(details["deliveries"]["retrying"], 0);

    // query= narrows the deliveries; the total counts the matches.
    let path = format!("/api/admin/bots/{bot}/deliveries");
    for (q, want) in [
        ("status = 'failed' AND attempts = 2", 1),
        ("status IN ('retrying', 'delivered')", 0),
        ("lastError LIKE '%503%' AND nextAttemptAt IS NULL", 1),
    ] {
        let (status, body) = api.get(&with_query(&path, q, ""), &admin).await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(body["data"].as_array().unwrap().len(), want, "{q}");
        assert_eq!(body["meta"]["pagination"]["total"], want, "{q}");
    }
}

#[tokio::test]
async fn neither_an_outage_nor_a_crash_loses_a_delivery() {
    let mut args = ADMIN_ARGS.to_vec();
    args.extend([
        "--webhook-retry-base-ms",
        "50",
        "--webhook-allow-private-hosts",
    ]);
    let Pair {
        mut server,
        api,
        alice,
        room,
        ..
    } = Pair::start_with(&args).await;
    let (bot, token) = make_bot(&api, "Hook").await;
    add_to_room(&api, &alice, room, bot).await;
    // A port nobody listens on yet: the receiver is down.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (status, body) = api
        .call(
            "PUT",
            "/api/bot/webhook",
            Some(&token),
            Some(json!({"url": format!("http://{addr}/hook")})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let secret = body["data"]["secret"].as_str().unwrap().to_owned();
    let posted = api.say(&alice, room, "while down").await;
    let admin = api.admin_token().await;
    let (list, _) = wait_for_deliveries(&api, &admin, bot, |list, _| {
        list.first().is_some_and(|d| d["status"] == "retrying")
    })
    .await;
    let error = list[0]["lastError"].as_str().unwrap();
    assert!(error.to_lowercase().contains("refused"), "{error}");

    // Crash, bring the receiver up, restart: the delivery arrives.
    server.kill();
    let dir = server.take_dir().unwrap();
    let (_, mut hits) = receiver_at(&addr.to_string(), &[]).await;
    let _server = TestServer::start_in(dir.path(), &args);
    let body = verified(&next_hit(&mut hits).await, &secret);
    assert_eq!(body["message"]["content"], "while down");
    assert_eq!(body["message"]["seq"], posted["seq"]);
}

#[tokio::test]
async fn webhooks_may_not_point_into_the_servers_own_network() {
    let server = TestServer::start_with(ADMIN_ARGS);
    let api = Api::new(&server);
    let (_, token) = make_bot(&api, "Nosy").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
    ] {
        let (status, body) = set_webhook(&api, &token, url).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["errors"][0]["name"], "url");
    }
}

/// `PUT /api/bot/webhook {url}` with a bot's (or anyone's) token.
async fn set_webhook(api: &Api, token: &str, url: &str) -> (u16, Value) {
    api.call(
        "PUT",
        "/api/bot/webhook",
        Some(token),
        Some(json!({ "url": url })),
    )
    .await
}

#[tokio::test]
async fn bot_lists_take_query_with_totals() {
    let Pair {
        server: _server,
        api,
        alice,
        room,
        ..
    } = Pair::start_with(ADMIN_ARGS).await;
    let admin = api.admin_token().await;
    let (helper, helper_token) = make_bot(&api, "Helper").await;
    let (other, _) = make_bot(&api, "Other").await;
    let (third, _) = make_bot(&api, "Third").await;
    add_to_room(&api, &alice, room, helper).await;

    for (q, extra, want, total) in [
        ("name IN ('Helper', 'Third')", "", vec![helper, third], 2),
        ("name IN ('Helper', 'Third')", "limit=1", vec![helper], 2),
        (
            "webhookUrl IS NULL AND delivered = 0",
            "offset=2",
            vec![third],
            3,
        ),
        ("name LIKE 'o%'", "", vec![other], 1),
    ] {
        let (status, body) = api
            .get(&with_query("/api/admin/bots", q, extra), &admin)
            .await;
        assert_eq!(status, 200, "{q}: {body}");
        let ids: Vec<i64> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, want, "{q} {extra}");
        assert_eq!(body["meta"]["pagination"]["total"], total, "{q} {extra}");
    }
    // The lastId cursor still works, and the total still counts all matches.
    let (_, body) = api
        .get(
            &with_query("/api/admin/bots", "id > 0", &format!("lastId={helper}")),
            &admin,
        )
        .await;
    assert_eq!(body["data"][0]["id"], other);
    assert_eq!(body["meta"]["pagination"]["total"], 3);

    // The bot's own rooms.
    let (status, body) = api
        .get(
            &with_query(
                "/api/bot/rooms",
                &format!("id = {room} AND type = 'group'"),
                "",
            ),
            &helper_token,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["id"], room);
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    let (_, body) = api
        .get(
            &with_query("/api/bot/rooms", "public = true", ""),
            &helper_token,
        )
        .await;
    assert_eq!(body["meta"]["pagination"]["total"], 0);

    let deliveries = format!("/api/admin/bots/{helper}/deliveries");
    let (status, body) = api
        .get(&with_query(&deliveries, "status = 'failed'", ""), &admin)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 0);

    for (path, token, q, reason) in [
        ("/api/admin/bots", &admin, "token_hash = 'x'", "unknown field `token_hash`; allowed fields: id, login, name, createdAt, webhookUrl, delivered"),
        ("/api/admin/bots", &admin, "webhookSecret IS NOT NULL", "unknown field `webhookSecret`"),
        ("/api/admin/bots", &admin, "1=1; DELETE FROM bots", "';' is not allowed"),
        (&deliveries, &admin, "status LIKE 'f%'", "operator LIKE is not allowed on field `status`"),
        (&deliveries, &admin, "bot_id = 1", "unknown field `bot_id`"),
        ("/api/bot/rooms", &helper_token, "password_hash = 'x'", "unknown field `password_hash`"),
        ("/api/bot/rooms", &helper_token, "id = 1 -- all", "comments are not allowed"),
    ] {
        let (status, body) = api.get(&with_query(path, q, ""), token).await;
        assert_bad_query(status, &body, q, reason);
    }
    let (_, body) = api.get("/api/admin/bots", &admin).await;
    assert_eq!(body["meta"]["pagination"]["total"], 3, "nothing changed");
}

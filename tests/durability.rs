//! Nothing acknowledged is ever lost: restarts, SIGKILL mid-traffic, and a
//! graceful drain.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::{Api, TestServer, Ws, WAIT};
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test]
async fn a_fresh_start_creates_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with_default_data_dir(dir.path());
    let (status, body) = Api::new(&server).call("GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok"}));
    assert!(dir.path().join("data").join("palaver.db").exists());
}

#[tokio::test]
async fn restart_keeps_all_history_and_sessions() {
    let mut server = TestServer::start();
    let dir = server.take_dir().unwrap();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let room = api.room(&alice, &[&bob]).await;
    for i in 0..30 {
        api.say(
            if i % 2 == 0 { &alice } else { &bob },
            room,
            &format!("message {i}"),
        )
        .await;
    }
    let before = api.history(&bob, room).await;
    assert_eq!(before.len(), 30);
    assert!(server.terminate().success(), "SIGTERM exits 0");

    let server = TestServer::start_in(dir.path(), &[]);
    let api = Api::new(&server);
    let after = api.history(&bob, room).await;
    assert_eq!(before, after);
    // Seqs continue where they stopped.
    assert_eq!(api.say(&alice, room, "after restart").await["seq"], 31);
}

#[tokio::test]
async fn graceful_shutdown_closes_sockets_with_1001_and_exits_0() {
    let mut server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let mut ws = Ws::connect(&server, &alice).await;
    ws.expect_quiet().await;
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (server, status)
    });
    assert_eq!(ws.close_code().await, Some(1001));
    let (_server, status) = status.await.unwrap();
    assert!(status.success());
}

/// Several clients pipeline messages into one room; the server is killed
/// with SIGKILL mid-stream. After a restart every acked message is there
/// exactly once, and the room's seqs run 1..=n with no gap.
/// Acks seen before the server is killed.
const KILL_AFTER_ACKS: usize = 500;

#[tokio::test]
async fn sigkill_while_sending_loses_no_acknowledged_message() {
    // The senders pipeline thousands of actions: lift the per-socket limit.
    let mut server = TestServer::start_with(&["--ws-actions-per-sec", "0"]);
    let dir = server.take_dir().unwrap();
    let api = Api::new(&server);
    let owner = api.user("owner").await;
    let mut senders = Vec::new();
    for i in 0..4 {
        senders.push(api.user(&format!("sender{i}")).await);
    }
    let others: Vec<_> = senders.iter().collect();
    let room = api.room(&owner, &others).await;

    let acked: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let ack_count = Arc::new(AtomicUsize::new(0));
    let under_way = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for user in &senders {
        let url = format!("{}/?token={}", server.ws, user.token);
        let acked = acked.clone();
        let ack_count = ack_count.clone();
        let under_way = under_way.clone();
        tasks.push(tokio::spawn(async move {
            let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let (mut tx, mut rx) = ws.split();
            // Bounded: at most this many messages per sender.
            let writer = tokio::spawn(async move {
                for _ in 0..5_000 {
                    let frame = json!({
                        "action": "create_message", "roomId": room,
                        "messageId": uuid::Uuid::new_v4().to_string(), "content": "durable?"
                    });
                    if tx
                        .send(WsMessage::Text(frame.to_string().into()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
            while let Some(Ok(msg)) = rx.next().await {
                let WsMessage::Text(text) = msg else { continue };
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == "ack" && frame["message"].is_object() {
                    let id = frame["message"]["messageId"].as_str().unwrap().to_owned();
                    let seq = frame["message"]["seq"].as_i64().unwrap();
                    acked.lock().unwrap().insert(id, seq);
                    if ack_count.fetch_add(1, Ordering::Relaxed) + 1 == KILL_AFTER_ACKS {
                        under_way.notify_one();
                    }
                }
            }
            writer.abort();
        }));
    }

    // Kill once traffic is well under way.
    tokio::time::timeout(WAIT * 3, under_way.notified())
        .await
        .expect("messages were not acked");
    server.kill();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= KILL_AFTER_ACKS);

    let server = TestServer::start_in(dir.path(), &["--ws-actions-per-sec", "0"]);
    let api = Api::new(&server);
    let history = api.history(&owner, room).await;
    let seqs: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=history.len() as i64).collect::<Vec<_>>(),
        "gap-free seqs"
    );
    let mut stored: HashMap<&str, i64> = HashMap::new();
    for m in &history {
        let id = m["messageId"].as_str().unwrap();
        assert!(
            stored.insert(id, m["seq"].as_i64().unwrap()).is_none(),
            "{id} stored twice"
        );
    }
    for (id, seq) in &acked {
        assert_eq!(
            stored.get(id.as_str()),
            Some(seq),
            "acked message {id} lost or moved"
        );
    }
    let unique: HashSet<_> = history.iter().map(|m| m["messageId"].clone()).collect();
    assert_eq!(unique.len(), history.len());
}

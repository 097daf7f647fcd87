//! `GET /api/events`: live server frames as Server-Sent Events, and an
//! exact replay after reconnecting with `Last-Event-ID`.

mod support;

use serde_json::{json, Value};
use support::{Api, Pair, Ws, WAIT};

/// One event as the client sees it.
#[derive(Debug)]
struct Event {
    id: Option<String>,
    event: String,
    data: Value,
}

/// A minimal event-stream reader over one streaming response.
struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    async fn open(api: &Api, token: &str, last_event_id: Option<&str>) -> Sse {
        let mut req = api
            .client
            .get(format!("{}/api/events", api.base))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.expect("open event stream");
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Sse {
            resp,
            buf: String::new(),
        }
    }

    /// The next event (comments skipped); fails the test after WAIT.
    async fn next(&mut self) -> Event {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = Event {
                    id: None,
                    event: "message".into(),
                    data: Value::Null,
                };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        event.id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event.event = v.to_owned();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        event.data = serde_json::from_str(v).expect("JSON data");
                    }
                }
                if any {
                    return event;
                }
                continue;
            }
            let chunk = tokio::time::timeout(WAIT, self.resp.chunk())
                .await
                .expect("timed out waiting for an event")
                .expect("stream error")
                .expect("stream ended");
            self.buf
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    async fn next_of(&mut self, event: &str) -> Event {
        loop {
            let e = self.next().await;
            if e.event == event {
                return e;
            }
        }
    }
}

#[tokio::test]
async fn events_stream_live_and_resume_exactly_after_last_event_id() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let (status, body) = api.get("/api/events", "not-a-token").await;
    assert_eq!((status, &body["code"]), (401, &json!("unauthorized")));

    let mut sse = Sse::open(&api, &alice.token, None).await;
    let ready = sse.next().await;
    assert_eq!(ready.event, "ready");
    assert_eq!(ready.data["userId"], alice.id);

    // Live: messages with resume ids, ephemeral frames without.
    for text in ["one", "two"] {
        api.say(&bob, room, text).await;
    }
    let mut last_id = None;
    for seq in 1..=2 {
        let e = sse.next_of("message_created").await;
        assert_eq!(e.data["message"]["seq"], seq);
        assert_eq!(e.id.as_deref(), Some(format!("{room}:{seq}").as_str()));
        last_id = e.id;
    }
    let mut b = Ws::connect(&server, &bob).await;
    b.send(json!({"action": "typing", "roomId": room})).await;
    let typing = sse.next_of("typing").await;
    assert_eq!(
        (typing.data["userId"].clone(), typing.id),
        (json!(bob.id), None)
    );
    drop(sse);

    // Missed while away: three messages.
    for text in ["three", "four", "five"] {
        api.say(&bob, room, text).await;
    }
    let mut sse = Sse::open(&api, &alice.token, last_id.as_deref()).await;
    let ready = sse.next().await;
    assert_eq!(ready.event, "ready");
    assert_eq!(ready.data["rooms"][room.to_string()]["status"], "replayed");
    api.say(&bob, room, "six").await;
    let mut seqs = Vec::new();
    while seqs.len() < 4 {
        let e = sse.next_of("message_created").await;
        seqs.push(e.data["message"]["seq"].as_i64().unwrap());
        assert_eq!(e.id, Some(format!("{room}:{}", seqs.last().unwrap())));
    }
    assert_eq!(seqs, [3, 4, 5, 6], "no duplicates, no gaps");

    // A room created now reaches the stream too.
    api.room(&bob, &[&alice]).await;
    assert_eq!(
        sse.next_of("room_created").await.data["type"],
        "room_created"
    );

    // A bad cursor is refused.
    let resp = api
        .client
        .get(format!("{}/api/events", api.base))
        .bearer_auth(&alice.token)
        .header("last-event-id", "garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

/// Reads the raw response into `raw` until `done` holds for it.
async fn read_until(
    tcp: &mut tokio::net::TcpStream,
    raw: &mut Vec<u8>,
    what: &str,
    done: impl Fn(&[u8]) -> bool,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0; 64 * 1024];
    while !done(raw) {
        let n = tokio::time::timeout(WAIT, tcp.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap();
        assert!(n > 0, "connection closed before {what}");
        raw.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn a_stream_that_stops_reading_is_cut_and_resumes_without_loss() {
    use tokio::io::AsyncWriteExt;
    // A tiny queue makes "falling behind" quick; a large resume limit lets
    // the reconnect replay everything that was missed.
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(&["--ws-queue-frames", "8", "--resume-limit", "5000"]).await;

    // The stream's socket has a tiny receive buffer and is not read.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr: std::net::SocketAddr = server.http.trim_start_matches("http://").parse().unwrap();
    let mut tcp = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        alice.token
    );
    tcp.write_all(request.as_bytes()).await.unwrap();

    // The stream is registered once `ready` is sent; messages posted before
    // that are not part of it.
    let mut raw = Vec::new();
    read_until(&mut tcp, &mut raw, "the ready event", |raw| {
        String::from_utf8_lossy(raw).contains("event: ready")
    })
    .await;

    // Enough to fill the kernel buffers and the queue.
    let total = 1500;
    let big = "x".repeat(4000);
    for _ in 0..total {
        api.say(&bob, room, &big).await;
    }

    // Whatever was buffered, then the server ends the response early (the
    // last chunk of a chunked body is empty).
    read_until(
        &mut tcp,
        &mut raw,
        "the end of a stream that fell behind",
        |raw| raw.ends_with(b"\r\n0\r\n\r\n"),
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    let received = text.matches("event: message_created").count();
    assert!(received < total, "the stream should have been cut off");
    let last_id = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("at least the ready event")
        .to_owned();

    // Reconnecting with the last id gets exactly the rest.
    let mut sse = Sse::open(&api, &alice.token, Some(&last_id)).await;
    assert_eq!(sse.next().await.event, "ready");
    let mut seqs = Vec::new();
    while seqs.len() < total - received {
        let e = sse.next_of("message_created").await;
        seqs.push(e.data["message"]["seq"].as_i64().unwrap());
    }
    let first = received as i64 + 1;
    assert_eq!(seqs, (first..=total as i64).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_stream_that_saw_no_message_yet_still_resumes() {
    let Pair {
        server: _server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let sse = {
        let mut sse = Sse::open(&api, &alice.token, None).await;
        let ready = sse.next().await;
        assert_eq!(ready.id.as_deref(), Some("-"), "never an empty id");
        ready.id.unwrap()
    };
    api.say(&bob, room, "while you were away").await;
    let mut again = Sse::open(&api, &alice.token, Some(&sse)).await;
    let e = again.next_of("message_created").await;
    assert_eq!(e.data["message"]["seq"], 1);
    assert_eq!(e.id, Some(format!("{room}:1")));
}

//! Test harness: the real `palaver` binary on 127.0.0.1:0 with a temporary
//! data directory, plus small HTTP and WebSocket clients. Each test file
//! uses some of it, so unused-item warnings are expected per file.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single expected event may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    child: Child,
    pub http: String,
    pub ws: String,
    pub data_dir: PathBuf,
    /// Keeps the temporary directory alive for as long as the server.
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(&[])
    }

    pub fn start_with(args: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        let mut server = Self::start_in(&path, args);
        server._dir = Some(dir);
        server
    }

    /// Starts on an existing data directory (for restarts).
    pub fn start_in(data_dir: &Path, args: &[&str]) -> TestServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_palaver"));
        command.arg("serve").arg("--data-dir").arg(data_dir);
        Self::spawn(command, data_dir, args)
    }

    /// Starts with no `--data-dir` in `cwd`, as a newcomer would.
    pub fn start_with_default_data_dir(cwd: &Path) -> TestServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_palaver"));
        command.arg("serve").current_dir(cwd);
        Self::spawn(command, &cwd.join("data"), &[])
    }

    fn spawn(mut command: Command, data_dir: &Path, args: &[&str]) -> TestServer {
        let mut child = command
            .args(["--http-addr", "127.0.0.1:0", "--ws-addr", "127.0.0.1:0"])
            .args(args)
            .env("PALAVER_LOG", "info")
            // The Management API is on only where a test asks for it.
            .env_remove("ADMIN_USERNAME")
            .env_remove("ADMIN_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start palaver");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("palaver ready") {
                    let field = |name: &str| {
                        line.split_whitespace()
                            .find_map(|w| w.strip_prefix(name))
                            .map(str::to_owned)
                    };
                    let _ = tx.send((field("http_addr="), field("ws_addr=")));
                }
                // Keep draining so the server never blocks on a full pipe;
                // show the log when a test fails.
                eprintln!("[server] {line}");
            }
        });
        let (http, ws) = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((Some(http), Some(ws))) => (http, ws),
            other => {
                let _ = child.kill();
                panic!("server did not become ready: {other:?}");
            }
        };
        TestServer {
            child,
            http: format!("http://{http}"),
            ws: format!("ws://{ws}"),
            data_dir: data_dir.to_path_buf(),
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.http, path)
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) with a pid we own and a valid signal number.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().expect("wait for server")
    }

    /// Keeps the data directory after the server is gone (for a restart).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Flags that turn the Management API on, with the credentials
/// [`Api::admin_token`] logs in with.
pub const ADMIN_ARGS: &[&str] = &[
    "--admin-username",
    "root",
    "--admin-password",
    "admin-password-1",
];

/// A logged-in test user.
#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub token: String,
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(server: &TestServer) -> Api {
        Api {
            base: server.http.clone(),
            client: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("http request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body: {text}"))
        };
        (status, value)
    }

    /// Logs the administrator in (the server runs with [`ADMIN_ARGS`]).
    pub async fn admin_token(&self) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/admin/auth",
                None,
                Some(json!({"username": "root", "password": "admin-password-1"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["token"]
            .as_str()
            .expect("admin token")
            .to_owned()
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// Moves a `--test-clock` server's automation clock forward; returns
    /// its new time (RFC 3339).
    pub async fn advance_clock(&self, secs: i64) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/test/clock",
                None,
                Some(json!({"advanceSecs": secs})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["now"].as_str().expect("now").to_owned()
    }

    /// Signs up and logs in.
    pub async fn user(&self, login: &str) -> User {
        let (status, body) = self
            .call(
                "POST",
                "/api/users",
                None,
                Some(json!({"login": login, "password": "password123", "name": login.to_uppercase()})),
            )
            .await;
        assert_eq!(status, 201, "create user: {body}");
        let (status, body) = self
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"login": login, "password": "password123"})),
            )
            .await;
        assert_eq!(status, 200, "login: {body}");
        User {
            id: body["data"]["user"]["id"].as_i64().expect("user id"),
            login: login.to_owned(),
            token: body["data"]["token"].as_str().expect("token").to_owned(),
        }
    }

    /// Creates a group room owned by `owner` with `others` in it.
    pub async fn room(&self, owner: &User, others: &[&User]) -> i64 {
        let ids: Vec<i64> = others.iter().map(|u| u.id).collect();
        let (status, body) = self
            .post(
                "/api/rooms",
                &owner.token,
                json!({"type": "group", "name": "room", "participants": ids}),
            )
            .await;
        assert_eq!(status, 201, "create room: {body}");
        body["data"]["id"].as_i64().expect("room id")
    }

    /// The direct room of `a` and `b`, made if there is none yet.
    pub async fn direct(&self, a: &User, b: &User) -> i64 {
        let (status, body) = self
            .post(
                "/api/rooms",
                &a.token,
                json!({"type": "direct", "participants": [b.id]}),
            )
            .await;
        assert!(status == 200 || status == 201, "direct room: {body}");
        body["data"]["id"].as_i64().expect("room id")
    }

    /// Posts over REST and returns the stored message.
    pub async fn say(&self, user: &User, room: i64, content: &str) -> Value {
        let (status, body) = self
            .post(
                &format!("/api/rooms/{room}/messages"),
                &user.token,
                json!({"content": content}),
            )
            .await;
        assert_eq!(status, 201, "post: {body}");
        body["data"].clone()
    }

    /// Every message of a room, oldest first, paging through history.
    pub async fn history(&self, user: &User, room: i64) -> Vec<Value> {
        let mut all = Vec::new();
        let mut before: Option<i64> = None;
        loop {
            let path = match before {
                Some(b) => format!("/api/rooms/{room}/messages?limit=100&before={b}"),
                None => format!("/api/rooms/{room}/messages?limit=100"),
            };
            let (status, body) = self.get(&path, &user.token).await;
            assert_eq!(status, 200, "history: {body}");
            let page = body["data"].as_array().expect("array").clone();
            if page.is_empty() {
                break;
            }
            before = page.last().and_then(|m| m["seq"].as_i64());
            all.extend(page);
            if before == Some(1) {
                break;
            }
        }
        all.reverse();
        all
    }
}

/// The common start of a test: a fresh server, alice and bob signed in,
/// and a group room of alice's with bob in it.
pub struct Pair {
    pub server: TestServer,
    pub api: Api,
    pub alice: User,
    pub bob: User,
    pub room: i64,
}

impl Pair {
    pub async fn start() -> Pair {
        Self::start_with(&[]).await
    }

    pub async fn start_with(args: &[&str]) -> Pair {
        let server = TestServer::start_with(args);
        let api = Api::new(&server);
        let alice = api.user("alice").await;
        let bob = api.user("bob").await;
        let room = api.room(&alice, &[&bob]).await;
        Pair {
            server,
            api,
            alice,
            bob,
            room,
        }
    }
}

pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// `presence` frames arrive whenever someone who shares a room comes
    /// or goes; tests that are not about presence skip them.
    presence: bool,
}

impl Ws {
    /// Connects with `?token=` and waits for the server's auth ack.
    pub async fn connect(server: &TestServer, user: &User) -> Ws {
        let mut ws = Self::connect_raw(&format!("{}/?token={}", server.ws, user.token)).await;
        let hello = ws.next_frame().await;
        assert_eq!(hello["type"], "ack", "first frame: {hello}");
        assert_eq!(hello["userId"], user.id);
        ws
    }

    /// Connects over a socket with a 4 KiB receive buffer, to play a
    /// client that cannot keep up.
    pub async fn connect_small_buffer(server: &TestServer, user: &User) -> Ws {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let addr: std::net::SocketAddr = server
            .ws
            .trim_start_matches("ws://")
            .parse()
            .expect("ws addr");
        let tcp = socket.connect(addr).await.expect("tcp connect");
        let url = format!("{}/?token={}", server.ws, user.token);
        let (stream, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
            .await
            .expect("ws handshake");
        Ws {
            stream,
            presence: false,
        }
    }

    /// The next message of any kind; None when the socket ends.
    pub async fn next_raw(&mut self) -> Option<WsMessage> {
        match tokio::time::timeout(WAIT, self.stream.next())
            .await
            .expect("timed out waiting for a frame")
        {
            Some(Ok(msg)) => Some(msg),
            _ => None,
        }
    }

    pub async fn connect_raw(url: &str) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        Ws {
            stream,
            presence: false,
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.stream
            .send(WsMessage::Text(frame.to_string().into()))
            .await
            .expect("ws send");
    }

    pub async fn send_raw(&mut self, msg: WsMessage) {
        self.stream.send(msg).await.expect("ws send");
    }

    /// From now on `next_frame` returns `presence` frames too.
    pub fn with_presence(mut self) -> Ws {
        self.presence = true;
        self
    }

    /// The next text frame as JSON (`presence` frames only after
    /// `with_presence`); fails the test after WAIT.
    pub async fn next_frame(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket closed")
                .expect("socket error");
            match msg {
                WsMessage::Text(text) => {
                    let frame: Value = serde_json::from_str(&text).expect("JSON frame");
                    if self.presence || frame["type"] != "presence" {
                        return frame;
                    }
                }
                WsMessage::Close(frame) => panic!("socket closed by server: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next frame of this type, skipping others (typing, seen...).
    pub async fn next_of(&mut self, ty: &str) -> Value {
        loop {
            let f = self.next_frame().await;
            if f["type"] == ty {
                return f;
            }
        }
    }

    /// One frame of each of these types, in whatever order they come (an
    /// action's `ack` and its broadcast may arrive either way round).
    pub async fn next_each(&mut self, types: &[&str]) -> Vec<Value> {
        let mut found: Vec<Option<Value>> = vec![None; types.len()];
        while found.iter().any(Option::is_none) {
            let f = self.next_frame().await;
            if let Some(i) = types.iter().position(|t| f["type"] == *t) {
                found[i].get_or_insert(f);
            }
        }
        found.into_iter().flatten().collect()
    }

    /// Proves nothing else is queued for this socket: a ping's pong must be
    /// the very next frame.
    pub async fn expect_quiet(&mut self) {
        self.send(json!({"action": "ping", "requestId": "quiet?"}))
            .await;
        let f = self.next_frame().await;
        assert_eq!(
            f,
            json!({"type": "pong", "requestId": "quiet?"}),
            "unexpected frame"
        );
    }

    /// Reads until the server closes; returns the close code, if any.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("timed out waiting for close")
            {
                None | Some(Err(_)) => return None,
                Some(Ok(WsMessage::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }

    /// Reads until the server ends the socket: how many text frames came
    /// before, and the close code, if any.
    pub async fn frames_until_closed(&mut self) -> (usize, Option<u16>) {
        let mut received = 0;
        loop {
            match self.next_raw().await {
                Some(WsMessage::Text(_)) => received += 1,
                Some(WsMessage::Close(frame)) => {
                    return (received, frame.map(|f| u16::from(f.code)))
                }
                Some(_) => {}
                None => return (received, None),
            }
        }
    }
}

/// Posts `total` messages of 4,000 bytes to `room` as `sender` — enough
/// to fill a socket that is never read, kernel buffers (up to 4 MiB on
/// loopback) and its queue included — while `reader` reads them; returns
/// `reader` and the seqs it got.
pub async fn flood(
    api: &Api,
    sender: &User,
    room: i64,
    mut reader: Ws,
    total: usize,
) -> (Ws, Vec<i64>) {
    let reading = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < total {
            let frame = reader.next_of("message_created").await;
            seqs.push(frame["message"]["seq"].as_i64().expect("seq"));
        }
        (reader, seqs)
    });
    let big = "x".repeat(4000);
    for _ in 0..total {
        api.say(sender, room, &big).await;
    }
    reading.await.expect("reader task")
}

// ---- phone login through the log SMS sender ----

/// Every code the log sender wrote for `phone`, oldest first.
pub fn logged_codes(data_dir: &Path, phone: &str) -> Vec<String> {
    let text = std::fs::read_to_string(data_dir.join("outbox/sms.log")).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.strip_prefix(phone)?.strip_prefix(' '))
        .filter_map(code_in)
        .collect()
}

/// The six-digit code in an SMS text.
pub fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
}

/// Waits until the log sender has written the `n`th code for `phone`.
pub async fn nth_logged_code(server: &TestServer, phone: &str, n: usize) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(code) = logged_codes(&server.data_dir, phone).get(n - 1) {
            return code.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no SMS #{n} for {phone} in sms.log"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Signs `phone` in with a code read from the SMS log; the first login
/// creates the account.
pub async fn phone_user(server: &TestServer, api: &Api, phone: &str) -> User {
    let device = format!("device-{phone}");
    let sent_before = logged_codes(&server.data_dir, phone).len();
    let (status, body) = api
        .call(
            "POST",
            "/api/auth/code",
            None,
            Some(json!({"phone": phone, "deviceId": device})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let code = nth_logged_code(server, phone, sent_before + 1).await;
    let (status, body) = api
        .call(
            "POST",
            "/api/auth/verify",
            None,
            Some(json!({"phone": phone, "code": code, "deviceId": device})),
        )
        .await;
    assert!(status == 200 || status == 201, "{body}");
    User {
        id: body["data"]["user"]["id"].as_i64().expect("user id"),
        login: phone.to_owned(),
        token: body["data"]["token"].as_str().expect("token").to_owned(),
    }
}

/// `path?query=<q>&<extra>`, with the filter URL-encoded.
pub fn with_query(path: &str, q: &str, extra: &str) -> String {
    let encoded = serde_urlencoded::to_string([("query", q)]).expect("encode");
    if extra.is_empty() {
        format!("{path}?{encoded}")
    } else {
        format!("{path}?{encoded}&{extra}")
    }
}

/// Asserts a 400 whose reason names the bad filter and contains `reason`.
pub fn assert_bad_query(status: u16, body: &Value, q: &str, reason: &str) {
    assert_eq!(status, 400, "{q}: {body}");
    assert_eq!(body["code"], "bad_request", "{q}: {body}");
    let got = body["reason"].as_str().expect("reason");
    assert!(got.starts_with("invalid query at character "), "{q}: {got}");
    assert!(got.contains(reason), "{q}: {got}");
}

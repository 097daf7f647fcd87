//! REST calls the scenarios need for their setup and cleanup: sign up and
//! log in users, create rooms, add participants, delete rooms, log out.
//! Everything created is remembered so `cleanup` can undo what the API
//! allows (rooms, sessions; users cannot be deleted yet).

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Password of every load user.
const PASSWORD: &str = "load-password-1";
/// Users signed up at once: argon2 is slow on purpose and the box is small.
pub const SIGNUP_CONCURRENCY: usize = 8;
/// Most participants one create-room request may name (the server's limit
/// is 1000 including the owner).
const MAX_PARTICIPANTS_PER_CREATE: usize = 999;
/// A single setup call taking longer than this means the server is stuck.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub token: String,
}

#[derive(Clone)]
pub struct Api {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    created_rooms: Arc<Mutex<Vec<(i64, String)>>>,
    sessions: Arc<Mutex<Vec<String>>>,
    users_created: Arc<Mutex<Vec<String>>>,
}

/// A unique login prefix for this run: `load<unix_ms>x`.
pub fn login_prefix() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("load{ms}x")
}

impl Api {
    pub fn new(addr: SocketAddr) -> Api {
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(SIGNUP_CONCURRENCY * 2)
            .build_http();
        Api {
            base: format!("http://{addr}"),
            client,
            created_rooms: Arc::default(),
            sessions: Arc::default(),
            users_created: Arc::default(),
        }
    }

    /// One call: status and JSON body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{}{}", self.base, path))
            .header("accept", "application/json");
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Full::new(Bytes::from(serde_json::to_vec(&v)?))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body)?;
        let fut = async {
            let resp = self.client.request(req).await?;
            let status = resp.status();
            let bytes = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(CALL_TIMEOUT, fut)
            .await
            .with_context(|| format!("{method} {path}: no answer within {CALL_TIMEOUT:?}"))?
            .with_context(|| format!("{method} {path}"))?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, value))
    }

    async fn expect(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        ok: &[u16],
    ) -> anyhow::Result<Value> {
        let (status, value) = self.call(method.clone(), path, token, body).await?;
        anyhow::ensure!(
            ok.contains(&status.as_u16()),
            "{method} {path} answered {status}: {value}"
        );
        Ok(value)
    }

    /// Signs up and logs in one user.
    pub async fn user(&self, login: &str) -> anyhow::Result<User> {
        self.expect(
            Method::POST,
            "/api/users",
            None,
            Some(json!({"login": login, "password": PASSWORD, "name": format!("Load {login}")})),
            &[201],
        )
        .await?;
        self.users_created
            .lock()
            .expect("users lock")
            .push(login.to_owned());
        let v = self
            .expect(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"login": login, "password": PASSWORD})),
                &[200],
            )
            .await?;
        let id = v["data"]["user"]["id"]
            .as_i64()
            .context("login answer has no data.user.id")?;
        let token = v["data"]["token"]
            .as_str()
            .context("login answer has no data.token")?
            .to_owned();
        self.sessions
            .lock()
            .expect("sessions lock")
            .push(token.clone());
        Ok(User { id, token })
    }

    /// Signs up `n` users `PREFIX0..PREFIXn-1`, a few at a time; in order.
    pub async fn users(&self, prefix: &str, n: usize) -> anyhow::Result<Vec<User>> {
        let started = std::time::Instant::now();
        let gate = Arc::new(Semaphore::new(SIGNUP_CONCURRENCY));
        let mut set = JoinSet::new();
        for i in 0..n {
            let api = self.clone();
            let login = format!("{prefix}{i}");
            let gate = gate.clone();
            set.spawn(async move {
                let _permit = gate.acquire_owned().await?;
                Ok::<_, anyhow::Error>((i, api.user(&login).await?))
            });
        }
        let mut users: Vec<Option<User>> = vec![None; n];
        while let Some(joined) = set.join_next().await {
            let (i, user) = joined??;
            users[i] = Some(user);
        }
        eprintln!(
            "palaver-load: signed up {n} users ({prefix}0..) in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(users.into_iter().flatten().collect())
    }

    /// A group room owned by `owner` with `others` in it; returns its id.
    pub async fn room(&self, owner: &User, others: &[&User], name: &str) -> anyhow::Result<i64> {
        let (first, rest) = others.split_at(others.len().min(MAX_PARTICIPANTS_PER_CREATE));
        let ids: Vec<i64> = first.iter().map(|u| u.id).collect();
        let v = self
            .expect(
                Method::POST,
                "/api/rooms",
                Some(&owner.token),
                Some(json!({"type": "group", "name": name, "participants": ids})),
                &[201],
            )
            .await?;
        let id = v["data"]["id"]
            .as_i64()
            .context("create room answer has no data.id")?;
        self.created_rooms
            .lock()
            .expect("rooms lock")
            .push((id, owner.token.clone()));
        for u in rest {
            self.expect(
                Method::POST,
                &format!("/api/rooms/{id}/participants"),
                Some(&owner.token),
                Some(json!({"userId": u.id})),
                &[200, 201],
            )
            .await?;
        }
        Ok(id)
    }

    /// Cleans up after a scenario whatever its outcome, and adds what the
    /// cleanup did to the report.
    pub async fn then_clean_up(
        &self,
        result: anyhow::Result<crate::stats::Report>,
    ) -> anyhow::Result<crate::stats::Report> {
        let cleanup = self.cleanup().await;
        eprintln!("palaver-load: {cleanup}");
        let mut report = result?;
        report.note(cleanup);
        Ok(report)
    }

    /// Deletes the rooms this run created and logs its sessions out; tells
    /// what it did (and that users stay).
    pub async fn cleanup(&self) -> String {
        let rooms: Vec<(i64, String)> =
            std::mem::take(&mut *self.created_rooms.lock().expect("rooms lock"));
        let sessions: Vec<String> =
            std::mem::take(&mut *self.sessions.lock().expect("sessions lock"));
        let users = self.users_created.lock().expect("users lock").len();
        let mut deleted = 0;
        let mut failed = Vec::new();
        for (id, token) in &rooms {
            match self
                .expect(
                    Method::DELETE,
                    &format!("/api/rooms/{id}"),
                    Some(token),
                    None,
                    &[200, 204],
                )
                .await
            {
                Ok(_) => deleted += 1,
                Err(e) => failed.push(format!("{e:#}")),
            }
        }
        let gate = Arc::new(Semaphore::new(SIGNUP_CONCURRENCY));
        let mut set = JoinSet::new();
        let session_count = sessions.len();
        for token in sessions {
            let api = self.clone();
            let gate = gate.clone();
            set.spawn(async move {
                let _permit = gate.acquire_owned().await;
                api.expect(
                    Method::POST,
                    "/api/auth/logout",
                    Some(&token),
                    None,
                    &[200, 204],
                )
                .await
                .is_ok()
            });
        }
        let mut logged_out = 0;
        while let Some(ok) = set.join_next().await {
            if matches!(ok, Ok(true)) {
                logged_out += 1;
            }
        }
        let mut s = format!(
            "cleanup: deleted {deleted}/{} rooms, logged out {logged_out}/{} sessions; {users} users stay (the API cannot delete users yet)",
            rooms.len(),
            session_count
        );
        if let Some(first) = failed.first() {
            s.push_str(&format!(
                "; room deletion failed {} times, first: {first}",
                failed.len()
            ));
        }
        s
    }
}

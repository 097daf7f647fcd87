//! One signed POST to a receiver, with a deadline. Plain http only: for
//! https, put a TLS-terminating proxy in front of the receiver (or point the
//! webhook at a local forwarder) — see the README.

use super::sign::signature;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Idle keep-alive connections kept per receiver host.
const MAX_IDLE_PER_HOST: usize = 4;

/// Why a delivery attempt failed; the text is what the admin sees.
#[derive(Debug)]
pub struct SendFailure(pub String);

pub struct WebhookClient {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

/// What identifies one delivery to the receiver.
pub struct Envelope<'a> {
    pub url: &'a str,
    pub secret: &'a str,
    /// Same on every retry of a message: receivers use it to drop repeats.
    pub delivery_id: &'a str,
    pub body: Bytes,
}

impl WebhookClient {
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .build(connector);
        WebhookClient { client, timeout }
    }

    /// Ok when the receiver answered 2xx within the timeout.
    pub async fn post(&self, e: Envelope<'_>) -> Result<(), SendFailure> {
        let uri: Uri = e
            .url
            .parse()
            .map_err(|_| SendFailure("the webhook URL is not valid".into()))?;
        let timestamp = crate::model::Timestamp::now().millis() / 1000;
        let header = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| SendFailure("unencodable header".into()))
        };
        let request = Request::post(uri)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static("palaver-webhooks/1"))
            .header(
                "x-palaver-event",
                HeaderValue::from_static("message_created"),
            )
            .header("x-palaver-delivery", header(e.delivery_id)?)
            .header("x-palaver-timestamp", HeaderValue::from(timestamp))
            .header(
                "x-palaver-signature",
                header(&signature(e.secret, timestamp, &e.body))?,
            )
            .body(Full::new(e.body))
            .map_err(|_| SendFailure("the request could not be built".into()))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| SendFailure(format!("no answer within {} ms", self.timeout.as_millis())))?
            .map_err(|err| SendFailure(format!("request failed: {}", with_causes(&err))))?;
        let status = response.status();
        // The body is not read: only the status matters, and dropping the
        // response frees the connection.
        if status.is_success() {
            Ok(())
        } else {
            Err(SendFailure(format!(
                "the receiver answered HTTP {}",
                status.as_u16()
            )))
        }
    }
}

/// The error and its causes ("client error (Connect): tcp connect error:
/// Connection refused"): the outer text alone does not say what went wrong.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

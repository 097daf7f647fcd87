//! The HTTP webhook SMS sender: POSTs each SMS to a gateway, with a body
//! made from a template and an optional auth header.

use super::sms::{SendFuture, SmsError, SmsSender};
use crate::config::SmsWebhook;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Longest wait for a gateway's answer; past it the try counts as failed
/// and the outbox retries later (the gateway may still send: at least once).
const GATEWAY_TIMEOUT_SECS: u64 = 10;

pub struct WebhookSender {
    client: Client<HttpConnector, Full<Bytes>>,
    config: SmsWebhook,
}

impl WebhookSender {
    pub fn new(config: SmsWebhook) -> Self {
        WebhookSender {
            client: Client::builder(TokioExecutor::new()).build_http(),
            config,
        }
    }

    async fn post(&self, phone: &str, text: &str) -> Result<(), SmsError> {
        let body = render(
            &self.config.template,
            &self.config.content_type,
            phone,
            text,
        );
        let mut request = hyper::Request::post(self.config.url.clone())
            .header(CONTENT_TYPE, self.config.content_type.as_str());
        if let Some(auth) = &self.config.auth_header {
            // Checked when the configuration was read.
            let name = HeaderName::from_bytes(auth.name.as_bytes())
                .map_err(|_| SmsError::Unreachable("invalid auth header name".into()))?;
            let mut value = HeaderValue::from_str(auth.value.expose())
                .map_err(|_| SmsError::Unreachable("invalid auth header value".into()))?;
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SmsError::Unreachable(e.to_string()))?;
        let response = tokio::time::timeout(
            Duration::from_secs(GATEWAY_TIMEOUT_SECS),
            self.client.request(request),
        )
        .await
        .map_err(|_| SmsError::Timeout(GATEWAY_TIMEOUT_SECS))?
        .map_err(|e| SmsError::Unreachable(e.to_string()))?;
        // The gateway's body is not read: it may echo the text.
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SmsError::Rejected(status.as_u16()))
        }
    }
}

impl SmsSender for WebhookSender {
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> SendFuture<'a> {
        Box::pin(self.post(phone, text))
    }
}

/// The template with `{phone}` and `{text}` replaced, each escaped for the
/// body's content type (JSON string content, form-urlencoded value, or
/// as-is for anything else). One pass, so a value is never substituted into.
pub fn render(template: &str, content_type: &str, phone: &str, text: &str) -> String {
    let escape = |value: &str| -> String {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if essence == "application/json" || essence.ends_with("+json") {
            let quoted = serde_json::Value::from(value).to_string();
            quoted[1..quoted.len() - 1].to_owned()
        } else if essence == "application/x-www-form-urlencoded" {
            serde_urlencoded::to_string([("", value)])
                .map(|pair| pair[1..].to_owned())
                .unwrap_or_default()
        } else {
            value.to_owned()
        }
    };
    let mut out = String::with_capacity(template.len() + text.len() + phone.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        if let Some(after) = tail.strip_prefix("{phone}") {
            out.push_str(&escape(phone));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{text}") {
            out.push_str(&escape(text));
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_escape_for_their_content_type() {
        let json = render(
            r#"{"to":"{phone}","body":"{text}"}"#,
            "application/json",
            "+4915123456789",
            "say \"hi\" {phone}",
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["to"], "+4915123456789");
        assert_eq!(parsed["body"], "say \"hi\" {phone}");
        assert_eq!(
            render(
                "To={phone}&Body={text}",
                "application/x-www-form-urlencoded",
                "+1415",
                "a b&c"
            ),
            "To=%2B1415&Body=a+b%26c"
        );
        assert_eq!(
            render("{phone}: {text} {other}", "text/plain", "+1", "x"),
            "+1: x {other}"
        );
    }
}

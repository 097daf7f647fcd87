//! What phone login needs at run time: the code hasher, the SMS queue, and
//! its rate limits. Built once by the server and kept in `App`.

use super::codes::{self, CodeHasher};
use super::outbox::{self, SmsQueue};
use super::sms::{LogSender, SmsSender};
use super::webhook::WebhookSender;
use crate::app::per_minute;
use crate::config::Config;
use crate::ratelimit::RateLimiter;
use crate::store::StoreHandle;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub struct PhoneAuth {
    pub hasher: CodeHasher,
    pub sms: SmsQueue,
    /// Code requests per client IP: each one costs an SMS (`None`: unlimited).
    pub send_by_ip: Option<RateLimiter>,
    /// Code requests per phone number, so nobody floods one phone.
    pub send_by_phone: Option<RateLimiter>,
    /// Code checks per client IP, against guessing across many numbers.
    pub check_by_ip: Option<RateLimiter>,
    /// Code checks per phone number, on top of the tries per code.
    pub check_by_phone: Option<RateLimiter>,
}

impl PhoneAuth {
    /// Loads (or makes, on first start) the code key and starts the SMS
    /// outbox task with the configured sender.
    pub async fn start(
        config: &Config,
        store: &StoreHandle,
        shutdown: CancellationToken,
    ) -> crate::store::StoreResult<PhoneAuth> {
        let fresh = codes::new_secret();
        let key = store
            .run(move |s| s.server_secret(codes::SECRET_NAME, &fresh))
            .await?;
        let sender: Arc<dyn SmsSender> = match &config.sms_webhook {
            Some(webhook) => Arc::new(WebhookSender::new(webhook.clone())),
            None => Arc::new(LogSender::new(&config.data_dir)),
        };
        Ok(PhoneAuth {
            hasher: CodeHasher::new(key),
            sms: outbox::start(store.clone(), sender, shutdown),
            send_by_ip: per_minute(config.sms_per_ip_per_minute),
            send_by_phone: per_minute(config.sms_per_phone_per_minute),
            check_by_ip: per_minute(config.code_checks_per_ip_per_minute),
            check_by_phone: per_minute(config.code_checks_per_phone_per_minute),
        })
    }

    /// `Err(seconds to wait)` when this IP or phone asked for too many codes.
    pub fn check_send_rate(&self, ip: std::net::IpAddr, phone: &str) -> Result<(), u64> {
        check(&self.send_by_ip, &self.send_by_phone, ip, phone)
    }

    /// `Err(seconds to wait)` when this IP or phone tried too many codes.
    pub fn check_verify_rate(&self, ip: std::net::IpAddr, phone: &str) -> Result<(), u64> {
        check(&self.check_by_ip, &self.check_by_phone, ip, phone)
    }
}

fn check(
    by_ip: &Option<RateLimiter>,
    by_phone: &Option<RateLimiter>,
    ip: std::net::IpAddr,
    phone: &str,
) -> Result<(), u64> {
    if let Some(limiter) = by_ip {
        limiter.check(&ip.to_string())?;
    }
    if let Some(limiter) = by_phone {
        limiter.check(phone)?;
    }
    Ok(())
}

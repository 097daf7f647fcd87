//! Every address, path, limit and timeout, with its unit and reason.
//! Precedence: command-line flag, then `PALAVER_*` environment variable,
//! then the TOML file given by `--config`, then the default here.

use crate::store::sqlite::Durability;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Settings as read from flags/env (clap) or a TOML file; all optional so
/// the layers can be merged.
#[derive(Debug, Default, Clone, clap::Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Settings {
    /// Directory for the database and uploads [default: ./data]
    #[arg(long, env = "PALAVER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the REST API [default: 127.0.0.1:8080]
    #[arg(long, env = "PALAVER_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Address of the WebSocket listener [default: 127.0.0.1:8081]
    #[arg(long, env = "PALAVER_WS_ADDR")]
    pub ws_addr: Option<SocketAddr>,
    /// normal: commits survive a process crash; full: also a power loss [default: normal]
    #[arg(long, env = "PALAVER_DURABILITY", value_enum)]
    pub durability: Option<Durability>,
    /// Session lifetime in seconds [default: 2592000, 30 days]
    #[arg(long, env = "PALAVER_TOKEN_TTL_SECS")]
    pub token_ttl_secs: Option<i64>,
    /// Origins allowed to open WebSocket connections, comma separated; empty allows any
    #[arg(long, env = "PALAVER_WS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub ws_allowed_origins: Option<Vec<String>>,
    /// Largest REST request body in bytes [default: 65536]
    #[arg(long, env = "PALAVER_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Largest gap a WebSocket `resume` replays [default: 1000]
    #[arg(long, env = "PALAVER_RESUME_LIMIT")]
    pub resume_limit: Option<u64>,
    /// Most simultaneous WebSocket connections [default: 100000]
    #[arg(long, env = "PALAVER_MAX_WS_CONNECTIONS")]
    pub max_ws_connections: Option<usize>,
    /// Frames queued for one socket before it counts as too slow and is closed [default: 1024]
    #[arg(long, env = "PALAVER_WS_QUEUE_FRAMES")]
    pub ws_queue_frames: Option<usize>,
    /// Sign-ups and logins allowed per client IP per minute; 0 = no limit [default: 30]
    #[arg(long, env = "PALAVER_AUTH_PER_IP_PER_MINUTE")]
    pub auth_per_ip_per_minute: Option<u32>,
    /// Logins allowed per account per minute; 0 = no limit [default: 10]
    #[arg(long, env = "PALAVER_AUTH_PER_ACCOUNT_PER_MINUTE")]
    pub auth_per_account_per_minute: Option<u32>,
    /// WebSocket actions allowed per connection per second (bursts of twice that); 0 = no limit [default: 100]
    #[arg(long, env = "PALAVER_WS_ACTIONS_PER_SEC")]
    pub ws_actions_per_sec: Option<u32>,
    /// For tests only: lets clients move the server's automation clock
    /// forward with POST /api/test/clock. Never on a real server.
    #[arg(
        long,
        env = "PALAVER_TEST_CLOCK",
        hide = true,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub test_clock: Option<bool>,
    /// Largest uploaded file in bytes [default: 26214400, 25 MiB]
    #[arg(long, env = "PALAVER_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<u64>,
    /// Milliseconds a `typing` lasts before the room hears `stop` [default: 5000]
    #[arg(long, env = "PALAVER_TYPING_TTL_MS")]
    pub typing_ttl_ms: Option<u64>,
    /// Milliseconds a user with no socket left still counts as online, so a reconnect does not flap their presence [default: 2000]
    #[arg(long, env = "PALAVER_PRESENCE_GRACE_MS")]
    pub presence_grace_ms: Option<u64>,
    /// Milliseconds between writes of delivered positions (also written on disconnect) [default: 5000]
    #[arg(long, env = "PALAVER_DELIVERED_FLUSH_MS")]
    pub delivered_flush_ms: Option<u64>,
    /// Administrator login for the Management API (/api/admin); with no
    /// username and password set, the Management API answers 404
    #[arg(long, env = "ADMIN_USERNAME")]
    pub admin_username: Option<String>,
    /// Administrator password for the Management API
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Lifetime of an administrator token in seconds [default: 43200, 12 hours]
    #[arg(long, env = "PALAVER_ADMIN_TOKEN_TTL_SECS")]
    pub admin_token_ttl_secs: Option<i64>,
    /// Lifetime of a phone login code in seconds [default: 300]
    #[arg(long, env = "PALAVER_PHONE_CODE_TTL_SECS")]
    pub phone_code_ttl_secs: Option<i64>,
    /// Wrong tries that kill a phone login code [default: 5]
    #[arg(long, env = "PALAVER_PHONE_CODE_ATTEMPTS")]
    pub phone_code_attempts: Option<u32>,
    /// Login codes sent per client IP per minute; 0 = no limit [default: 10]
    #[arg(long, env = "PALAVER_SMS_PER_IP_PER_MINUTE")]
    pub sms_per_ip_per_minute: Option<u32>,
    /// Login codes sent per phone number per minute; 0 = no limit [default: 3]
    #[arg(long, env = "PALAVER_SMS_PER_PHONE_PER_MINUTE")]
    pub sms_per_phone_per_minute: Option<u32>,
    /// Login code checks per client IP per minute; 0 = no limit [default: 30]
    #[arg(long, env = "PALAVER_CODE_CHECKS_PER_IP_PER_MINUTE")]
    pub code_checks_per_ip_per_minute: Option<u32>,
    /// Login code checks per phone number per minute; 0 = no limit [default: 10]
    #[arg(long, env = "PALAVER_CODE_CHECKS_PER_PHONE_PER_MINUTE")]
    pub code_checks_per_phone_per_minute: Option<u32>,
    /// http:// URL an SMS gateway receives POSTs on; unset = write SMS to <data-dir>/outbox/sms.log
    #[arg(long, env = "PALAVER_SMS_WEBHOOK_URL")]
    pub sms_webhook_url: Option<String>,
    /// Body of the webhook POST; {phone} and {text} are replaced [default: {"to":"{phone}","text":"{text}"}]
    #[arg(long, env = "PALAVER_SMS_WEBHOOK_TEMPLATE")]
    pub sms_webhook_template: Option<String>,
    /// Content-Type of the webhook POST; JSON and form bodies get their values escaped [default: application/json]
    #[arg(long, env = "PALAVER_SMS_WEBHOOK_CONTENT_TYPE")]
    pub sms_webhook_content_type: Option<String>,
    /// Header sent with every webhook POST, as "Name: value" (e.g. "Authorization: Bearer ...")
    #[arg(long, env = "PALAVER_SMS_WEBHOOK_AUTH_HEADER", hide_env_values = true)]
    pub sms_webhook_auth_header: Option<String>,
    /// Wait before the first retry of a failed webhook delivery, in ms; each further failure doubles it (up to an hour) [default: 1000]
    #[arg(long, env = "PALAVER_WEBHOOK_RETRY_BASE_MS")]
    pub webhook_retry_base_ms: Option<u64>,
    /// Attempts per message before a webhook delivery is marked failed [default: 12]
    #[arg(long, env = "PALAVER_WEBHOOK_MAX_ATTEMPTS")]
    pub webhook_max_attempts: Option<u32>,
    /// Time a webhook receiver gets to connect and answer, in ms [default: 10000]
    #[arg(long, env = "PALAVER_WEBHOOK_TIMEOUT_MS")]
    pub webhook_timeout_ms: Option<u64>,
    /// Let bot webhooks post to loopback, private and link-local addresses (receivers on this host or LAN) [default: off]
    #[arg(
        long,
        env = "PALAVER_WEBHOOK_ALLOW_PRIVATE_HOSTS",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub webhook_allow_private_hosts: Option<bool>,
}

impl Settings {
    /// `self` wins where set; `other` fills the gaps.
    pub fn or(self, other: Settings) -> Settings {
        Settings {
            data_dir: self.data_dir.or(other.data_dir),
            http_addr: self.http_addr.or(other.http_addr),
            ws_addr: self.ws_addr.or(other.ws_addr),
            durability: self.durability.or(other.durability),
            token_ttl_secs: self.token_ttl_secs.or(other.token_ttl_secs),
            ws_allowed_origins: self.ws_allowed_origins.or(other.ws_allowed_origins),
            max_body_bytes: self.max_body_bytes.or(other.max_body_bytes),
            resume_limit: self.resume_limit.or(other.resume_limit),
            max_ws_connections: self.max_ws_connections.or(other.max_ws_connections),
            ws_queue_frames: self.ws_queue_frames.or(other.ws_queue_frames),
            auth_per_ip_per_minute: self.auth_per_ip_per_minute.or(other.auth_per_ip_per_minute),
            auth_per_account_per_minute: self
                .auth_per_account_per_minute
                .or(other.auth_per_account_per_minute),
            ws_actions_per_sec: self.ws_actions_per_sec.or(other.ws_actions_per_sec),
            test_clock: self.test_clock.or(other.test_clock),
            max_upload_bytes: self.max_upload_bytes.or(other.max_upload_bytes),
            typing_ttl_ms: self.typing_ttl_ms.or(other.typing_ttl_ms),
            presence_grace_ms: self.presence_grace_ms.or(other.presence_grace_ms),
            delivered_flush_ms: self.delivered_flush_ms.or(other.delivered_flush_ms),
            admin_username: self.admin_username.or(other.admin_username),
            admin_password: self.admin_password.or(other.admin_password),
            admin_token_ttl_secs: self.admin_token_ttl_secs.or(other.admin_token_ttl_secs),
            phone_code_ttl_secs: self.phone_code_ttl_secs.or(other.phone_code_ttl_secs),
            phone_code_attempts: self.phone_code_attempts.or(other.phone_code_attempts),
            sms_per_ip_per_minute: self.sms_per_ip_per_minute.or(other.sms_per_ip_per_minute),
            sms_per_phone_per_minute: self
                .sms_per_phone_per_minute
                .or(other.sms_per_phone_per_minute),
            code_checks_per_ip_per_minute: self
                .code_checks_per_ip_per_minute
                .or(other.code_checks_per_ip_per_minute),
            code_checks_per_phone_per_minute: self
                .code_checks_per_phone_per_minute
                .or(other.code_checks_per_phone_per_minute),
            sms_webhook_url: self.sms_webhook_url.or(other.sms_webhook_url),
            sms_webhook_template: self.sms_webhook_template.or(other.sms_webhook_template),
            sms_webhook_content_type: self
                .sms_webhook_content_type
                .or(other.sms_webhook_content_type),
            sms_webhook_auth_header: self
                .sms_webhook_auth_header
                .or(other.sms_webhook_auth_header),
            webhook_retry_base_ms: self.webhook_retry_base_ms.or(other.webhook_retry_base_ms),
            webhook_max_attempts: self.webhook_max_attempts.or(other.webhook_max_attempts),
            webhook_timeout_ms: self.webhook_timeout_ms.or(other.webhook_timeout_ms),
            webhook_allow_private_hosts: self
                .webhook_allow_private_hosts
                .or(other.webhook_allow_private_hosts),
        }
    }

    pub fn from_toml_file(path: &Path) -> anyhow::Result<Settings> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("bad config {}: {e}", path.display()))
    }
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub ws_addr: SocketAddr,
    pub durability: Durability,
    pub token_ttl_secs: i64,
    pub ws_allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub resume_limit: u64,
    pub max_ws_connections: usize,
    pub ws_queue_frames: usize,
    /// 0 means no limit.
    pub auth_per_ip_per_minute: u32,
    /// 0 means no limit.
    pub auth_per_account_per_minute: u32,
    /// 0 means no limit.
    pub ws_actions_per_sec: u32,
    pub max_upload_bytes: u64,
    /// Whether `POST /api/test/clock` may move the automation clock.
    pub test_clock: bool,
    /// How long a `typing` lasts without a new one (ms).
    pub typing_ttl_ms: u64,
    /// How long a user without sockets stays online (ms): presence debounce.
    pub presence_grace_ms: u64,
    /// How often delivered positions are written (ms).
    pub delivered_flush_ms: u64,
    /// `None`: the Management API is off (404), never open.
    pub admin: Option<AdminCredentials>,
    pub admin_token_ttl_secs: i64,
    /// How long a phone login code works, in seconds.
    pub phone_code_ttl_secs: i64,
    /// Wrong tries a code survives; the last one kills it.
    pub phone_code_attempts: u32,
    /// 0 means no limit (also for the three below).
    pub sms_per_ip_per_minute: u32,
    pub sms_per_phone_per_minute: u32,
    pub code_checks_per_ip_per_minute: u32,
    pub code_checks_per_phone_per_minute: u32,
    /// Where SMS go; `None` means the log sender.
    pub sms_webhook: Option<SmsWebhook>,
    /// First webhook retry delay (ms); doubled per failure, capped at an hour.
    pub webhook_retry_base_ms: u64,
    /// Webhook attempts per message before it is marked failed.
    pub webhook_max_attempts: u32,
    /// Connect-and-answer deadline of one webhook request (ms).
    pub webhook_timeout_ms: u64,
    /// Whether webhooks may target internal addresses (off: no SSRF).
    pub webhook_allow_private_hosts: bool,
}

/// The administrator's login. Debug output hides the password, so the
/// configuration can be logged.
#[derive(Clone)]
pub struct AdminCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Body of a webhook POST when none is configured.
pub const DEFAULT_SMS_TEMPLATE: &str = r#"{"to":"{phone}","text":"{text}"}"#;

/// The HTTP SMS gateway to POST to.
#[derive(Debug, Clone)]
pub struct SmsWebhook {
    pub url: hyper::Uri,
    pub template: String,
    pub content_type: String,
    pub auth_header: Option<AuthHeader>,
}

/// A header carrying a credential; its value never shows in `Debug` output.
#[derive(Debug, Clone)]
pub struct AuthHeader {
    pub name: String,
    pub value: Secret,
}

#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl SmsWebhook {
    fn resolve(s: &Settings) -> anyhow::Result<Option<SmsWebhook>> {
        let Some(url) = &s.sms_webhook_url else {
            anyhow::ensure!(
                s.sms_webhook_auth_header.is_none() && s.sms_webhook_template.is_none(),
                "sms-webhook-template and sms-webhook-auth-header need sms-webhook-url"
            );
            return Ok(None);
        };
        let url: hyper::Uri = url
            .parse()
            .map_err(|e| anyhow::anyhow!("sms-webhook-url is not a URL: {e}"))?;
        // The built-in client speaks plain HTTP only; TLS gateways are
        // reached through a local relay (see README).
        anyhow::ensure!(
            url.scheme_str() == Some("http") && url.host().is_some(),
            "sms-webhook-url must be an http:// URL with a host"
        );
        let content_type = s
            .sms_webhook_content_type
            .clone()
            .unwrap_or_else(|| "application/json".to_owned());
        anyhow::ensure!(
            hyper::header::HeaderValue::from_str(&content_type).is_ok(),
            "sms-webhook-content-type is not a valid header value"
        );
        let auth_header = match &s.sms_webhook_auth_header {
            None => None,
            Some(line) => {
                let (name, value) = line.split_once(':').ok_or_else(|| {
                    anyhow::anyhow!("sms-webhook-auth-header must look like 'Name: value'")
                })?;
                let (name, value) = (name.trim(), value.trim());
                anyhow::ensure!(
                    hyper::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                        && hyper::header::HeaderValue::from_str(value).is_ok(),
                    "sms-webhook-auth-header must look like 'Name: value'"
                );
                Some(AuthHeader {
                    name: name.to_owned(),
                    value: Secret(value.to_owned()),
                })
            }
        };
        Ok(Some(SmsWebhook {
            url,
            template: s
                .sms_webhook_template
                .clone()
                .unwrap_or_else(|| DEFAULT_SMS_TEMPLATE.to_owned()),
            content_type,
            auth_header,
        }))
    }
}

impl Config {
    pub fn resolve(s: Settings) -> anyhow::Result<Config> {
        let sms_webhook = SmsWebhook::resolve(&s)?;
        let config = Config {
            data_dir: s.data_dir.unwrap_or_else(|| PathBuf::from("data")),
            http_addr: s
                .http_addr
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            ws_addr: s
                .ws_addr
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8081))),
            durability: s.durability.unwrap_or(Durability::Normal),
            token_ttl_secs: s.token_ttl_secs.unwrap_or(30 * 24 * 3600),
            ws_allowed_origins: s.ws_allowed_origins.unwrap_or_default(),
            max_body_bytes: s.max_body_bytes.unwrap_or(64 * 1024),
            resume_limit: s.resume_limit.unwrap_or(1000),
            max_ws_connections: s.max_ws_connections.unwrap_or(100_000),
            ws_queue_frames: s.ws_queue_frames.unwrap_or(1024),
            auth_per_ip_per_minute: s.auth_per_ip_per_minute.unwrap_or(30),
            auth_per_account_per_minute: s.auth_per_account_per_minute.unwrap_or(10),
            ws_actions_per_sec: s.ws_actions_per_sec.unwrap_or(100),
            max_upload_bytes: s.max_upload_bytes.unwrap_or(25 * 1024 * 1024),
            test_clock: s.test_clock.unwrap_or(false),
            typing_ttl_ms: s.typing_ttl_ms.unwrap_or(5000),
            presence_grace_ms: s.presence_grace_ms.unwrap_or(2000),
            delivered_flush_ms: s.delivered_flush_ms.unwrap_or(5000),
            admin: match (s.admin_username, s.admin_password) {
                (Some(username), Some(password)) => Some(AdminCredentials { username, password }),
                (None, None) => None,
                _ => anyhow::bail!(
                    "set both admin-username and admin-password (ADMIN_USERNAME, ADMIN_PASSWORD), or neither"
                ),
            },
            admin_token_ttl_secs: s.admin_token_ttl_secs.unwrap_or(12 * 3600),
            phone_code_ttl_secs: s.phone_code_ttl_secs.unwrap_or(300),
            phone_code_attempts: s.phone_code_attempts.unwrap_or(5),
            sms_per_ip_per_minute: s.sms_per_ip_per_minute.unwrap_or(10),
            sms_per_phone_per_minute: s.sms_per_phone_per_minute.unwrap_or(3),
            code_checks_per_ip_per_minute: s.code_checks_per_ip_per_minute.unwrap_or(30),
            code_checks_per_phone_per_minute: s.code_checks_per_phone_per_minute.unwrap_or(10),
            sms_webhook,
            webhook_retry_base_ms: s.webhook_retry_base_ms.unwrap_or(1000),
            webhook_max_attempts: s.webhook_max_attempts.unwrap_or(12),
            webhook_timeout_ms: s.webhook_timeout_ms.unwrap_or(10_000),
            webhook_allow_private_hosts: s.webhook_allow_private_hosts.unwrap_or(false),
        };
        if let Some(admin) = &config.admin {
            anyhow::ensure!(
                !admin.username.trim().is_empty(),
                "admin-username must not be empty"
            );
            anyhow::ensure!(
                admin.password.chars().count() >= 8,
                "admin-password must be at least 8 characters"
            );
        }
        anyhow::ensure!(
            config.max_upload_bytes >= 1024,
            "max-upload-bytes must be at least 1024"
        );
        anyhow::ensure!(
            config.admin_token_ttl_secs > 0,
            "admin-token-ttl-secs must be positive"
        );
        anyhow::ensure!(
            config.phone_code_ttl_secs > 0,
            "phone-code-ttl-secs must be positive"
        );
        anyhow::ensure!(
            config.phone_code_attempts > 0,
            "phone-code-attempts must be at least 1"
        );
        anyhow::ensure!(config.token_ttl_secs > 0, "token-ttl-secs must be positive");
        anyhow::ensure!(
            config.typing_ttl_ms >= 1,
            "typing-ttl-ms must be at least 1"
        );
        anyhow::ensure!(
            config.delivered_flush_ms >= 10,
            "delivered-flush-ms must be at least 10"
        );
        anyhow::ensure!(
            config.webhook_retry_base_ms >= 1,
            "webhook-retry-base-ms must be at least 1"
        );
        anyhow::ensure!(
            config.webhook_max_attempts >= 1,
            "webhook-max-attempts must be at least 1"
        );
        anyhow::ensure!(
            config.webhook_timeout_ms >= 100,
            "webhook-timeout-ms must be at least 100"
        );
        anyhow::ensure!(
            (1..=u32::MAX as u64).contains(&config.resume_limit),
            "resume-limit must be between 1 and {}",
            u32::MAX
        );
        anyhow::ensure!(
            config.max_body_bytes >= 1024,
            "max-body-bytes must be at least 1024"
        );
        anyhow::ensure!(
            config.ws_queue_frames >= 8,
            "ws-queue-frames must be at least 8"
        );
        anyhow::ensure!(
            config.max_ws_connections >= 1,
            "max-ws-connections must be at least 1"
        );
        Ok(config)
    }

    /// Defaults with a given data directory and ephemeral ports (tests, benches).
    pub fn ephemeral(data_dir: PathBuf) -> Config {
        let mut c = Config::resolve(Settings::default()).expect("defaults are valid");
        c.data_dir = data_dir;
        c.http_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        c.ws_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_defaults_fill_the_rest() {
        let file: Settings =
            toml::from_str("http-addr = \"127.0.0.1:9000\"\nresume-limit = 5").unwrap();
        let flags = Settings {
            resume_limit: Some(7),
            ..Settings::default()
        };
        let c = Config::resolve(flags.or(file)).unwrap();
        assert_eq!(c.http_addr.port(), 9000);
        assert_eq!(c.resume_limit, 7);
        assert_eq!(c.ws_addr.port(), 8081);
        assert_eq!(c.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn sms_webhook_settings_are_checked_and_the_secret_hidden() {
        let with = |url: &str, auth: Option<&str>| {
            Config::resolve(Settings {
                sms_webhook_url: Some(url.to_owned()),
                sms_webhook_auth_header: auth.map(str::to_owned),
                ..Settings::default()
            })
        };
        let c = with(
            "http://127.0.0.1:9/sms",
            Some("Authorization: Bearer s3cret"),
        )
        .unwrap();
        let hook = c.sms_webhook.as_ref().unwrap();
        assert_eq!(hook.template, DEFAULT_SMS_TEMPLATE);
        let auth = hook.auth_header.as_ref().unwrap();
        assert_eq!(
            (auth.name.as_str(), auth.value.expose()),
            ("Authorization", "Bearer s3cret")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(with("https://gateway.example/sms", None).is_err());
        assert!(with("not a url", None).is_err());
        assert!(with("http://127.0.0.1:9/", Some("no colon")).is_err());
        assert!(Config::resolve(Settings::default())
            .unwrap()
            .sms_webhook
            .is_none());
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        assert!(toml::from_str::<Settings>("htp-addr = \"x\"").is_err());
    }
}

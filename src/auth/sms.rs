//! Sending SMS: the `SmsSender` trait the outbox task calls, and the
//! default sender for servers without a gateway, which writes each SMS to
//! the log and to `<data-dir>/outbox/sms.log`.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use tokio::io::AsyncWriteExt;

/// The outbox file of [`LogSender`], relative to the data directory.
pub const SMS_LOG: &str = "outbox/sms.log";

/// Why one delivery failed; the outbox tries again later. Never carries
/// the text (it holds a code).
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("gateway unreachable: {0}")]
    Unreachable(String),
    #[error("gateway answered HTTP {0}")]
    Rejected(u16),
    #[error("gateway did not answer within {0} s")]
    Timeout(u64),
    #[error("cannot write the SMS log: {0}")]
    Io(#[from] std::io::Error),
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SmsError>> + Send + 'a>>;

/// Delivers one SMS. Implementations are called by one task, one SMS at a
/// time; `Ok` means the SMS is handed over and will not be sent again.
pub trait SmsSender: Send + Sync + 'static {
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> SendFuture<'a>;
}

/// Logs every SMS and appends `<phone> <text>` as one line to the outbox
/// file, so a self-hoster without a gateway can read codes and pass them on.
pub struct LogSender {
    path: PathBuf,
}

impl LogSender {
    pub fn new(data_dir: &std::path::Path) -> Self {
        LogSender {
            path: data_dir.join(SMS_LOG),
        }
    }

    async fn append(&self, phone: &str, text: &str) -> Result<(), SmsError> {
        if let Some(dir) = self.path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await?;
        // One write per line: a reader never sees half an SMS.
        let line = format!("{phone} {}\n", text.replace(['\n', '\r'], " "));
        file.write_all(line.as_bytes()).await?;
        file.flush().await?;
        Ok(())
    }
}

impl SmsSender for LogSender {
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            // The one place a code may be logged: this sender's job is to
            // show it to whoever runs the server.
            tracing::info!(%phone, %text, "SMS (log sender)");
            self.append(phone, text).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn log_sender_appends_one_line_per_sms() {
        let dir = tempfile::tempdir().unwrap();
        let sender = LogSender::new(dir.path());
        sender.send("+4915123456789", "code 1").await.unwrap();
        sender.send("+14155552671", "code\n2").await.unwrap();
        let text = std::fs::read_to_string(dir.path().join(SMS_LOG)).unwrap();
        assert_eq!(text, "+4915123456789 code 1\n+14155552671 code 2\n");
    }
}

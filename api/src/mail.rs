//! Outgoing mail behind one interface: SMTP when `ORBIT_SMTP_URL` is set,
//! else the log, so that `orbit serve` works with no setup and a developer
//! can still read the codes and links it would have mailed.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// An SMTP server that does not answer within this time fails the send.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One plain-text mail.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the address `{0}` is not a valid mailbox")]
    InvalidAddress(String),
    #[error("the mail could not be built: {0}")]
    Build(String),
    #[error("the SMTP server did not take the mail: {0}")]
    Smtp(String),
}

/// One per process; clones share it.
#[derive(Clone)]
pub struct Mailer(Arc<Transport>);

enum Transport {
    Log {
        from: Mailbox,
    },
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

impl Mailer {
    /// SMTP at `smtp_url` (`smtp://host:port` in the clear, `smtp://...?tls=required`
    /// for STARTTLS, `smtps://` for TLS; `user:password@` to log in), or the log.
    pub fn new(smtp_url: Option<&str>, from: &str) -> Result<Self, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailError::InvalidAddress(from.to_owned()))?;
        let transport = match smtp_url {
            None => Transport::Log { from },
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    // The URL may hold a password: name the problem only.
                    .map_err(|error| MailError::Smtp(format!("ORBIT_SMTP_URL: {error}")))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Transport::Smtp { transport, from }
            }
        };
        Ok(Self(Arc::new(transport)))
    }

    /// Whether mail really leaves the server.
    pub fn is_smtp(&self) -> bool {
        matches!(*self.0, Transport::Smtp { .. })
    }

    /// Sends in a task of its own; a failure is logged. For mail whose
    /// sending must not show in the response time (whether a login code went
    /// out tells whether the email has an account) nor fail the request.
    pub fn send_later(&self, email: Email) {
        let mailer = self.clone();
        tokio::spawn(async move {
            let subject = email.subject.clone();
            if let Err(error) = mailer.send(email).await {
                tracing::error!(%error, %subject, "a mail could not be sent");
            }
        });
    }

    pub async fn send(&self, email: Email) -> Result<(), MailError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| MailError::InvalidAddress(email.to.clone()))?;
        match &*self.0 {
            Transport::Log { from } => {
                tracing::info!(
                    from = %from,
                    to = %to,
                    subject = %email.subject,
                    body = %email.text,
                    "mail (no ORBIT_SMTP_URL: logged, not sent)"
                );
                Ok(())
            }
            Transport::Smtp { transport, from } => {
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(email.subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(email.text)
                    .map_err(|error| MailError::Build(error.to_string()))?;
                transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|error| MailError::Smtp(error.to_string()))
            }
        }
    }
}

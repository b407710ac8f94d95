//! Outgoing mail: SMTP to a sink on loopback when `ORBIT_SMTP_URL` is set,
//! the log otherwise. (The flows that mail codes and links come with issue 4.)

use orbit_api::config::Secret;
use orbit_api::mail::{Email, MailError, Mailer};
use orbit_tests::smtp::SmtpSink;
use orbit_tests::{spawn_app, spawn_app_with};

fn email(to: &str) -> Email {
    Email {
        to: to.to_owned(),
        subject: "Your sign-in code".to_owned(),
        // A line that starts with a dot must survive SMTP's dot-stuffing.
        text: "Your code is 482913.\n.It expires in 10 minutes.\n".to_owned(),
    }
}

#[tokio::test]
async fn with_smtp_configured_mail_reaches_the_server_as_sent() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(|settings| {
        settings.smtp_url = Some(Secret::new(url));
        settings.mail_from = "Orbit Test <orbit@example.com>".to_owned();
    })
    .await;
    let mailer = app.services.mailer();
    assert!(mailer.is_smtp());

    mailer.send(email("ada@example.com")).await.unwrap();

    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.from, "orbit@example.com");
    assert_eq!(mail.to, vec!["ada@example.com".to_owned()]);
    assert_eq!(mail.header("Subject").as_deref(), Some("Your sign-in code"));
    let from = mail.header("From").unwrap();
    assert!(from.contains("orbit@example.com"), "{from}");
    assert!(mail.header("To").unwrap().contains("ada@example.com"));
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        mail.body().contains("Your code is 482913."),
        "{}",
        mail.data
    );
    assert!(
        mail.body().contains("\n.It expires in 10 minutes."),
        "{}",
        mail.data
    );
}

#[tokio::test]
async fn without_smtp_mail_is_logged_and_sending_succeeds() {
    let app = spawn_app().await;
    let mailer = app.services.mailer();
    assert!(!mailer.is_smtp());
    mailer.send(email("ada@example.com")).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_smtp_server_fails_the_send_without_showing_the_password() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mailer = Mailer::new(
        Some(&format!(
            "smtp://orbit:hunter2-secret@127.0.0.1:{closed_port}"
        )),
        "orbit@example.com",
    )
    .unwrap();
    let error = mailer.send(email("ada@example.com")).await.unwrap_err();
    assert!(matches!(error, MailError::Smtp(_)), "{error:?}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[tokio::test]
async fn addresses_that_are_not_mailboxes_are_refused() {
    let mailer = Mailer::new(None, "orbit@example.com").unwrap();
    let error = mailer.send(email("not an address")).await.unwrap_err();
    assert!(matches!(error, MailError::InvalidAddress(_)), "{error:?}");
    assert!(matches!(
        Mailer::new(None, "nobody at all"),
        Err(MailError::InvalidAddress(_))
    ));
    assert!(Mailer::new(Some("ftp://127.0.0.1"), "orbit@example.com").is_err());
}

//! A server that mails through an SMTP sink, with one app and one user of
//! it: what the sign-in suites start from. Each suite adds its own helpers
//! in an `impl World` of its own.

use orbit_api::admin::CreatedAppKeys;
use orbit_api::config::Secret;
use orbit_tests::smtp::SmtpSink;
use orbit_tests::{Session, TestApp, email, spawn_app_with};

pub struct World {
    pub app: TestApp,
    pub sink: SmtpSink,
    pub keys: CreatedAppKeys,
    pub user: Session,
}

pub async fn world() -> World {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(|settings| settings.smtp_url = Some(Secret::new(url))).await;
    let keys = app.create_app("Passwordless").await;
    let user = app
        .sign_up(&keys.publishable_key, &email("ada"), "Ada")
        .await;
    World {
        app,
        sink,
        keys,
        user,
    }
}

impl World {
    pub fn pk(&self) -> Option<&str> {
        Some(self.keys.publishable_key.as_str())
    }
}

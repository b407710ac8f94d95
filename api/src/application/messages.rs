//! Sending a message: who may, and the short way most sends take.

use orbit_domain::entities::message;
use orbit_domain::ids::{ThreadId, UserId};
use orbit_domain::policy::{ThreadAction, authorize_thread};
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::messages::{self, NewMessage, SentBy};
use serde_json::Value;

use crate::Services;
use crate::application::access;
use crate::viewer::{Actor, Viewer};

/// A message as the caller asked for it, its fields already validated.
pub struct MessageToSend {
    pub thread: ThreadId,
    pub content: String,
    pub metadata: Option<Value>,
    pub idempotency_key: Option<String>,
    /// `authorId` as given: with a secret key, the user it is from.
    pub author_id: Option<String>,
}

/// Sends a message into a thread the caller may post in, from the caller
/// (a user) or from the user a secret key names.
///
/// Most sends are allowed and nothing reacts to them, so they are tried
/// first as one statement that checks access as it writes
/// ([`messages::send_if_allowed`]). Anything else — a thread the caller
/// may not see, an unknown author, a reused idempotency key, a reaction
/// that wants the message — takes the long way, whose checks say what is
/// wrong, in the order they are made.
pub async fn send(
    services: &Services,
    viewer: &Viewer,
    to_send: MessageToSend,
) -> DomainResult<message::Model> {
    let vouched = match (viewer.actor()?, to_send.author_id.as_deref()) {
        (Actor::User(user), None) => Some((user, SentBy::Author)),
        (Actor::App, Some(author)) => UserId::parse_field(author, "authorId")
            .ok()
            .map(|author| (author, SentBy::SecretKey)),
        _ => None,
    };
    let new_message = |author| NewMessage {
        thread: to_send.thread,
        author,
        content: to_send.content.clone(),
        metadata: to_send.metadata.clone(),
        idempotency_key: to_send.idempotency_key.clone(),
    };
    if let Some((author, sent_by)) = vouched {
        let sent = messages::send_if_allowed(
            services.db(),
            viewer.app(),
            services.clock().now(),
            &new_message(author),
            sent_by,
        )
        .await?;
        if let Some(message) = sent {
            return Ok(message);
        }
    }
    let (_, thread_access) = access::thread(services, viewer, to_send.thread, "threadId").await?;
    authorize_thread(thread_access, ThreadAction::Post)?;
    let author = match (viewer.actor()?, to_send.author_id.as_deref()) {
        (Actor::User(_), Some(_)) => {
            return Err(
                DomainError::forbidden("only a secret key may name the author")
                    .with_field("authorId"),
            );
        }
        (Actor::User(user), None) => user,
        (Actor::App, None) => {
            return Err(DomainError::bad_input(
                "authorId",
                "a secret key must name the author",
            ));
        }
        (Actor::App, Some(author)) => {
            let author = UserId::parse_field(author, "authorId")?;
            access::user(services, viewer, author, "authorId").await?;
            author
        }
    };
    messages::send(
        services.db(),
        viewer.app(),
        services.clock().now(),
        new_message(author),
    )
    .await
}

//! Message mutations.

use super::scalars::Json;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use orbit_domain::ids::{MessageId, ThreadId};
use orbit_domain::policy::{MessageAction, ThreadAction, authorize_message, authorize_thread};
use orbit_domain::{DomainError, validation};
use orbit_persistence::messages;
use orbit_persistence::threads;

use super::types::{MessageNode, ThreadNode};
use super::{GqlResult, services, viewer};
use crate::application::messages::MessageToSend;
use crate::application::{self, access};

#[derive(InputObject)]
pub struct SendMessageInput {
    thread_id: ID,
    content: String,
    /// A JSON object of at most 8 KiB, stored with the message.
    metadata: Option<Json>,
    /// Retrying with the same key returns the first message instead of a second one.
    idempotency_key: Option<String>,
    /// With a secret key: the user the message is from.
    author_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct SendMessagePayload {
    message: MessageNode,
}

#[derive(InputObject)]
pub struct EditMessageInput {
    id: ID,
    content: String,
}

#[derive(SimpleObject)]
pub struct EditMessagePayload {
    message: MessageNode,
}

#[derive(InputObject)]
pub struct DeleteMessageInput {
    id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteMessagePayload {
    message: MessageNode,
}

#[derive(InputObject)]
pub struct MarkThreadReadInput {
    thread_id: ID,
    /// The newest message the user has seen.
    message_id: ID,
}

#[derive(SimpleObject)]
pub struct MarkThreadReadPayload {
    thread: ThreadNode,
}

#[derive(InputObject)]
pub struct SetTypingInput {
    thread_id: ID,
    /// True while typing (renew every few seconds: it lapses after 5 s);
    /// false when done.
    typing: bool,
}

#[derive(SimpleObject)]
pub struct SetTypingPayload {
    thread_id: ID,
    typing: bool,
}

#[derive(Default)]
pub struct MessageMutation;

#[Object]
impl MessageMutation {
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        input: SendMessageInput,
    ) -> GqlResult<SendMessagePayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let thread_id = ThreadId::parse_field(&input.thread_id, "threadId")?;
        let content = validation::message_content("content", &input.content)?;
        let metadata = input.metadata.map(|Json(value)| value);
        if let Some(metadata) = &metadata {
            validation::metadata("metadata", metadata)?;
        }
        let idempotency_key = input
            .idempotency_key
            .map(|key| validation::idempotency_key("idempotencyKey", &key))
            .transpose()?;
        let message = application::messages::send(
            services,
            viewer,
            MessageToSend {
                thread: thread_id,
                content,
                metadata,
                idempotency_key,
                author_id: input.author_id.map(|id| id.0),
            },
        )
        .await?;
        Ok(SendMessagePayload {
            message: MessageNode(message),
        })
    }

    /// Changes a message's content: its author, or the app's secret key.
    async fn edit_message(
        &self,
        ctx: &Context<'_>,
        input: EditMessageInput,
    ) -> GqlResult<EditMessagePayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = MessageId::parse_field(&input.id, "id")?;
        let content = validation::message_content("content", &input.content)?;
        let (message, thread_access) = message_with_access(ctx, id).await?;
        let is_author = viewer
            .user()
            .is_some_and(|u| Some(u.uuid()) == message.author_user_id);
        authorize_message(thread_access, is_author, MessageAction::Edit)?;
        let message = messages::edit(
            services.db(),
            viewer.app(),
            message,
            content,
            services.clock().now(),
        )
        .await?;
        Ok(EditMessagePayload {
            message: MessageNode(message),
        })
    }

    /// Soft delete: the message keeps its place, its content is erased.
    async fn delete_message(
        &self,
        ctx: &Context<'_>,
        input: DeleteMessageInput,
    ) -> GqlResult<DeleteMessagePayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = MessageId::parse_field(&input.id, "id")?;
        let (message, thread_access) = message_with_access(ctx, id).await?;
        let is_author = viewer
            .user()
            .is_some_and(|u| Some(u.uuid()) == message.author_user_id);
        authorize_message(thread_access, is_author, MessageAction::Delete)?;
        let message =
            messages::delete(services.db(), viewer.app(), message, services.clock().now()).await?;
        Ok(DeleteMessagePayload {
            message: MessageNode(message),
        })
    }

    /// Tells the thread's subscribers that the caller is typing. Ephemeral:
    /// nothing is stored and it is not replayed on resume.
    async fn set_typing(
        &self,
        ctx: &Context<'_>,
        input: SetTypingInput,
    ) -> GqlResult<SetTypingPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let user = viewer.require_user()?;
        let thread_id = ThreadId::parse_field(&input.thread_id, "threadId")?;
        let (_, thread_access) = access::thread(services, viewer, thread_id, "threadId").await?;
        authorize_thread(thread_access, ThreadAction::Post)?;
        services
            .typing()
            .set(
                services.broker(),
                (viewer.app(), thread_id, user),
                input.typing,
                services.clock().now(),
            )
            .await
            .map_err(DomainError::internal)?;
        Ok(SetTypingPayload {
            thread_id: input.thread_id,
            typing: input.typing,
        })
    }

    async fn mark_thread_read(
        &self,
        ctx: &Context<'_>,
        input: MarkThreadReadInput,
    ) -> GqlResult<MarkThreadReadPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let user = viewer.require_user()?;
        let thread_id = ThreadId::parse_field(&input.thread_id, "threadId")?;
        let message_id = MessageId::parse_field(&input.message_id, "messageId")?;
        let (thread, thread_access) =
            access::thread(services, viewer, thread_id, "threadId").await?;
        authorize_thread(thread_access, ThreadAction::MarkRead)?;
        threads::mark_read(
            services.db(),
            viewer.app(),
            thread_id,
            user,
            message_id,
            services.clock().now(),
        )
        .await?;
        Ok(MarkThreadReadPayload {
            thread: ThreadNode(thread),
        })
    }
}

async fn message_with_access(
    ctx: &Context<'_>,
    id: MessageId,
) -> GqlResult<(
    orbit_domain::entities::message::Model,
    orbit_domain::policy::ThreadAccess,
)> {
    let services = services(ctx);
    let viewer = viewer(ctx);
    viewer.actor()?;
    let message = messages::find(services.db(), viewer.app(), id)
        .await?
        .ok_or_else(|| DomainError::not_found("message").with_field("id"))?;
    let (_, access) = access::thread(services, viewer, ThreadId(message.thread_id), "id")
        .await
        .map_err(|_| DomainError::not_found("message").with_field("id"))?;
    Ok((message, access))
}

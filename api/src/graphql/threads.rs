//! Thread mutations.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use orbit_domain::ids::{AgentId, TeamId, ThreadId, UserId};
use orbit_domain::policy::{TeamAction, ThreadAction, authorize_team, authorize_thread};
use orbit_domain::{DomainError, validation};
use orbit_persistence::threads::{self, ThreadOwner};
use orbit_persistence::{agents, users};

use super::types::ThreadNode;
use super::{GqlResult, services, viewer};
use crate::Services;
use crate::application::access;
use crate::viewer::{Actor, Viewer};

/// At most this many users can be named when a thread is created.
const MAX_INITIAL_PARTICIPANTS: usize = 100;

#[derive(InputObject)]
pub struct CreateThreadInput {
    title: String,
    /// Makes it the team's thread; otherwise it is the caller's own.
    team_id: Option<ID>,
    participant_ids: Option<Vec<ID>>,
    /// With a secret key and no team: the user who owns the thread.
    owner_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct CreateThreadPayload {
    thread: ThreadNode,
}

#[derive(InputObject)]
pub struct UpdateThreadInput {
    id: ID,
    title: String,
}

#[derive(SimpleObject)]
pub struct UpdateThreadPayload {
    thread: ThreadNode,
}

#[derive(InputObject)]
pub struct DeleteThreadInput {
    id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteThreadPayload {
    deleted_thread_id: ID,
}

/// Names a user or an agent, not both.
#[derive(InputObject)]
pub struct AddThreadParticipantInput {
    thread_id: ID,
    user_id: Option<ID>,
    /// An agent of the app: it then answers the thread's messages (as its
    /// reply mode says).
    agent_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct AddThreadParticipantPayload {
    thread: ThreadNode,
}

/// Names a user or an agent, not both.
#[derive(InputObject)]
pub struct RemoveThreadParticipantInput {
    thread_id: ID,
    user_id: Option<ID>,
    agent_id: Option<ID>,
}

/// Who a participant input names.
enum Named {
    User(UserId),
    Agent(AgentId),
}

fn named(user_id: Option<&ID>, agent_id: Option<&ID>) -> GqlResult<Named> {
    match (user_id, agent_id) {
        (Some(user), None) => Ok(Named::User(UserId::parse_field(user, "userId")?)),
        (None, Some(agent)) => Ok(Named::Agent(AgentId::parse_field(agent, "agentId")?)),
        (Some(_), Some(_)) => Err(DomainError::bad_input(
            "agentId",
            "give userId or agentId, not both",
        )),
        (None, None) => Err(DomainError::bad_input("userId", "give userId or agentId")),
    }
}

/// An agent of the caller's app.
async fn known_agent(services: &Services, viewer: &Viewer, agent: AgentId) -> GqlResult<AgentId> {
    agents::find(services.db(), viewer.app(), agent)
        .await?
        .ok_or_else(|| DomainError::not_found("agent").with_field("agentId"))?;
    Ok(agent)
}

#[derive(SimpleObject)]
pub struct RemoveThreadParticipantPayload {
    thread: ThreadNode,
}

/// A user the caller may add: one they can see (a secret key: any user of the app).
async fn addable_user(
    services: &Services,
    viewer: &Viewer,
    id: &ID,
    field: &str,
) -> GqlResult<UserId> {
    let user = UserId::parse_field(id, field)?;
    access::user(services, viewer, user, field).await?;
    Ok(user)
}

#[derive(Default)]
pub struct ThreadMutation;

#[Object]
impl ThreadMutation {
    async fn create_thread(
        &self,
        ctx: &Context<'_>,
        input: CreateThreadInput,
    ) -> GqlResult<CreateThreadPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let actor = viewer.actor()?;
        let title = validation::text_line("title", &input.title, validation::MAX_TITLE_CHARS)?;
        let owner = match (input.team_id, input.owner_id, actor) {
            (_, Some(_), Actor::User(_)) => {
                return Err(
                    DomainError::forbidden("only a secret key may name the owner")
                        .with_field("ownerId"),
                );
            }
            (Some(_), Some(_), Actor::App) => {
                return Err(DomainError::bad_input(
                    "ownerId",
                    "give teamId or ownerId, not both",
                ));
            }
            (Some(team_id), None, _) => {
                let team_id = TeamId::parse_field(&team_id, "teamId")?;
                let (_, team_access) = access::team(services, viewer, team_id, "teamId").await?;
                authorize_team(team_access, TeamAction::CreateThread)?;
                ThreadOwner::Team(team_id)
            }
            (None, None, Actor::User(user)) => ThreadOwner::User(user),
            (None, None, Actor::App) => {
                return Err(DomainError::bad_input(
                    "ownerId",
                    "a secret key must give teamId or ownerId",
                ));
            }
            (None, Some(owner), Actor::App) => {
                let owner = UserId::parse_field(&owner, "ownerId")?;
                users::find(services.db(), viewer.app(), owner)
                    .await?
                    .ok_or_else(|| DomainError::not_found("user").with_field("ownerId"))?;
                ThreadOwner::User(owner)
            }
        };
        let requested = input.participant_ids.unwrap_or_default();
        if requested.len() > MAX_INITIAL_PARTICIPANTS {
            return Err(DomainError::bad_input(
                "participantIds",
                format!("at most {MAX_INITIAL_PARTICIPANTS} participants"),
            ));
        }
        let mut participants = Vec::with_capacity(requested.len());
        for id in &requested {
            let user = addable_user(services, viewer, id, "participantIds").await?;
            if !participants.contains(&user) {
                participants.push(user);
            }
        }
        let thread = threads::create(
            services.db(),
            viewer.app(),
            services.clock().now(),
            title,
            owner,
            viewer.user(),
            participants,
        )
        .await?;
        Ok(CreateThreadPayload {
            thread: ThreadNode(thread),
        })
    }

    async fn update_thread(
        &self,
        ctx: &Context<'_>,
        input: UpdateThreadInput,
    ) -> GqlResult<UpdateThreadPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = ThreadId::parse_field(&input.id, "id")?;
        let title = validation::text_line("title", &input.title, validation::MAX_TITLE_CHARS)?;
        let (thread, access) = access::thread(services, viewer, id, "id").await?;
        authorize_thread(access, ThreadAction::Manage)?;
        let thread = threads::rename(
            services.db(),
            viewer.app(),
            thread,
            title,
            services.clock().now(),
        )
        .await?;
        Ok(UpdateThreadPayload {
            thread: ThreadNode(thread),
        })
    }

    /// Deletes the thread and all its messages.
    async fn delete_thread(
        &self,
        ctx: &Context<'_>,
        input: DeleteThreadInput,
    ) -> GqlResult<DeleteThreadPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = ThreadId::parse_field(&input.id, "id")?;
        let (thread, access) = access::thread(services, viewer, id, "id").await?;
        authorize_thread(access, ThreadAction::Manage)?;
        threads::delete(services.db(), viewer.app(), thread, services.clock().now()).await?;
        Ok(DeleteThreadPayload {
            deleted_thread_id: input.id,
        })
    }

    async fn add_thread_participant(
        &self,
        ctx: &Context<'_>,
        input: AddThreadParticipantInput,
    ) -> GqlResult<AddThreadParticipantPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = ThreadId::parse_field(&input.thread_id, "threadId")?;
        let participant = named(input.user_id.as_ref(), input.agent_id.as_ref())?;
        let (thread, access) = access::thread(services, viewer, id, "threadId").await?;
        authorize_thread(access, ThreadAction::Manage)?;
        let now = services.clock().now();
        match participant {
            Named::User(user) => {
                // One the caller can see (a secret key: any user of the app).
                access::user(services, viewer, user, "userId").await?;
                threads::add_participant(services.db(), viewer.app(), id, user, now).await?;
            }
            Named::Agent(agent) => {
                let agent = known_agent(services, viewer, agent).await?;
                agents::add_to_thread(services.db(), viewer.app(), id, agent, now).await?;
            }
        }
        Ok(AddThreadParticipantPayload {
            thread: ThreadNode(thread),
        })
    }

    /// Removes a participant; anyone may remove themself.
    async fn remove_thread_participant(
        &self,
        ctx: &Context<'_>,
        input: RemoveThreadParticipantInput,
    ) -> GqlResult<RemoveThreadParticipantPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = ThreadId::parse_field(&input.thread_id, "threadId")?;
        let participant = named(input.user_id.as_ref(), input.agent_id.as_ref())?;
        let (thread, access) = access::thread(services, viewer, id, "threadId").await?;
        let now = services.clock().now();
        match participant {
            Named::User(user) => {
                if viewer.user() != Some(user) {
                    authorize_thread(access, ThreadAction::Manage)?;
                }
                threads::remove_participant(services.db(), viewer.app(), id, user, now).await?;
            }
            Named::Agent(agent) => {
                authorize_thread(access, ThreadAction::Manage)?;
                agents::remove_from_thread(services.db(), viewer.app(), id, agent, now).await?;
            }
        }
        Ok(RemoveThreadParticipantPayload {
            thread: ThreadNode(thread),
        })
    }
}

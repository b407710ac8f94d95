//! The API's object types, mapped from domain models.

use super::matched::Matched;
use super::scalars::Json;
use async_graphql::{Context, Enum, ID, Interface, Object, Union};
use chrono::{DateTime, Utc};
use orbit_domain::DomainError;
use orbit_domain::entities::{
    app, message, team, team_member, thread, thread_agent, thread_participant, user,
};
use orbit_domain::ids::{AppId, MessageId, TeamId, ThreadId, UserId};
use orbit_domain::policy::AppAction;
use orbit_domain::roles;
use orbit_persistence::{app_settings, messages, teams};
use uuid::Uuid;

use super::agents::{AgentNode, AgentReplyNode, TokenUsage, load_agent};
use super::api_keys::{ApiKeyNode, SigningKeyNode};
use super::app_settings::AppSettingsNode;
use super::apps::{AppMemberNode, AppRole};
use super::loaders::{
    AgentParticipantsLoader, AppRoleLoader, ParticipantsLoader, PresenceLoader, RepliesAskedLoader,
    TeamLoader, TeamRoleLoader, ThreadLoader, UnreadLoader, UserLoader,
};
use super::pagination::{Conn, CursorList};
use super::{GqlResult, loader, loader_error, scope, services, viewer};
use crate::application::access;
use crate::viewer::Viewer;

#[derive(Interface)]
#[graphql(name = "Node", field(name = "id", ty = "ID"))]
pub enum Node {
    App(AppNode),
    User(UserNode),
    Team(TeamNode),
    Thread(ThreadNode),
    Message(MessageNode),
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ViewerKind")]
pub enum ViewerKind {
    User,
    AppSecret,
    AppPublishable,
    Developer,
    Anonymous,
}

pub struct ViewerNode(pub Viewer);

#[Object(name = "Viewer")]
impl ViewerNode {
    async fn kind(&self) -> ViewerKind {
        match self.0 {
            Viewer::Anonymous { .. } => ViewerKind::Anonymous,
            Viewer::Publishable { .. } => ViewerKind::AppPublishable,
            Viewer::Secret { .. } => ViewerKind::AppSecret,
            Viewer::User {
                developer: true, ..
            } => ViewerKind::Developer,
            Viewer::User { .. } => ViewerKind::User,
        }
    }

    /// The app the credential belongs to (the console app for developers and anonymous callers).
    async fn app(&self, ctx: &Context<'_>) -> GqlResult<Option<AppNode>> {
        let found =
            orbit_persistence::apps::find(services(ctx).db(), self.0.app().app_id()).await?;
        Ok(found.map(AppNode))
    }

    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        let Some(id) = self.0.user() else {
            return Ok(None);
        };
        load_user(ctx, id.uuid()).await
    }
}

pub struct AppNode(pub app::Model);

#[Object(name = "App")]
impl AppNode {
    async fn id(&self) -> ID {
        ID(AppId(self.0.id).to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The app's login settings: for its secret key and its developers
    /// (FORBIDDEN for others).
    async fn settings(&self, ctx: &Context<'_>) -> GqlResult<Option<AppSettingsNode>> {
        let app_id = AppId(self.0.id).to_string();
        let (scope, _) =
            access::managed_app(services(ctx), viewer(ctx), Some(&app_id), AppAction::View).await?;
        let settings = app_settings::get(services(ctx).db(), scope).await?;
        Ok(Some(AppSettingsNode(settings)))
    }
    /// The calling developer's role on the app; null for keys and users.
    async fn viewer_role(&self, ctx: &Context<'_>) -> GqlResult<Option<AppRole>> {
        let role = loader::<AppRoleLoader>(ctx)
            .load_one(self.0.id)
            .await
            .map_err(loader_error)?;
        Ok(role.map(AppRole::from))
    }
    /// The app's developers, by user id (its secret key and developers;
    /// FORBIDDEN for others).
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Option<Conn<AppMemberNode>>> {
        super::apps::members(ctx, AppId(self.0.id), first, after)
            .await
            .map(Some)
    }
    /// The app's API keys, revoked ones too, oldest first; never their
    /// secret (its secret key and developers; FORBIDDEN for others).
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Option<Conn<ApiKeyNode>>> {
        super::api_keys::list_api_keys(ctx, AppId(self.0.id), first, after)
            .await
            .map(Some)
    }
    /// The versions of the app's access-token signing key, newest first
    /// (its secret key and developers; FORBIDDEN for others).
    async fn signing_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Option<Conn<SigningKeyNode>>> {
        super::api_keys::list_signing_keys(ctx, AppId(self.0.id), first, after)
            .await
            .map(Some)
    }
    /// The outside OAuth providers users log in with, as configured (never
    /// the client secret): for the app's secret key and its developers.
    async fn identity_providers(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<super::identity_providers::IdentityProviderNode>> {
        let app_id = AppId(self.0.id).to_string();
        super::identity_providers::list(ctx, Some(&app_id)).await
    }
    /// The providers a front end may offer (`startOAuthLogin`): for anyone
    /// who can see the app, its publishable key included.
    async fn login_providers(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<super::identity_providers::LoginProvider>> {
        let scope = orbit_domain::ids::AppScope::new(AppId(self.0.id));
        super::identity_providers::login_providers(services(ctx), scope).await
    }
}

pub struct UserNode {
    model: user::Model,
    /// Set where the user has just proved who they are (sign-up, login), so
    /// they see their own email before their token is the request's credential.
    is_self: bool,
}

impl UserNode {
    pub fn new(model: user::Model) -> Self {
        Self {
            model,
            is_self: false,
        }
    }

    pub fn authenticated(model: user::Model) -> Self {
        Self {
            model,
            is_self: true,
        }
    }
}

pub(crate) async fn load_user(ctx: &Context<'_>, id: Uuid) -> GqlResult<Option<UserNode>> {
    let found = loader::<UserLoader>(ctx)
        .load_one(id)
        .await
        .map_err(loader_error)?;
    Ok(found.map(UserNode::new))
}

#[Object(name = "User")]
impl UserNode {
    async fn id(&self) -> ID {
        ID(UserId(self.model.id).to_string())
    }
    /// Shown to the user themself and to the app's secret key; null for others.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        let viewer = viewer(ctx);
        let allowed = self.is_self
            || matches!(viewer, Viewer::Secret { .. })
            || viewer.user() == Some(UserId(self.model.id));
        allowed.then_some(self.model.email.as_str())
    }
    async fn display_name(&self) -> &str {
        &self.model.display_name
    }
    /// The outside-provider accounts linked to the user (they sign in with
    /// them): for the user themself and the app's secret key; null for others.
    async fn identities(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<Vec<super::oauth_login::UserIdentityNode>>> {
        let viewer = viewer(ctx);
        let allowed = self.is_self
            || matches!(viewer, Viewer::Secret { .. })
            || viewer.user() == Some(UserId(self.model.id));
        if !allowed {
            return Ok(None);
        }
        let scope = orbit_domain::ids::AppScope::new(AppId(self.model.app_id));
        super::oauth_login::identities(services(ctx), scope, UserId(self.model.id))
            .await
            .map(Some)
    }
    /// When the app disabled the account; shown to the secret key only.
    async fn disabled_at(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        match viewer(ctx) {
            Viewer::Secret { .. } => self.model.disabled_at,
            _ => None,
        }
    }
    async fn timezone(&self) -> Option<&str> {
        self.model.timezone.as_deref()
    }
    async fn avatar_url(&self) -> Option<&str> {
        self.model.avatar_url.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    /// Online while the user has a socket open on any server (away if they
    /// said so with `setPresence`), offline otherwise.
    async fn presence(&self, ctx: &Context<'_>) -> GqlResult<super::events::PresenceStatus> {
        let status = loader::<PresenceLoader>(ctx)
            .load_one(self.model.id)
            .await
            .map_err(loader_error)?
            .unwrap_or(orbit_realtime::PresenceStatus::Offline);
        Ok(status.into())
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "TeamRole")]
pub enum TeamRole {
    Owner,
    Admin,
    Member,
}

impl From<roles::TeamRole> for TeamRole {
    fn from(role: roles::TeamRole) -> Self {
        match role {
            roles::TeamRole::Owner => TeamRole::Owner,
            roles::TeamRole::Admin => TeamRole::Admin,
            roles::TeamRole::Member => TeamRole::Member,
        }
    }
}

impl From<TeamRole> for roles::TeamRole {
    fn from(role: TeamRole) -> Self {
        match role {
            TeamRole::Owner => roles::TeamRole::Owner,
            TeamRole::Admin => roles::TeamRole::Admin,
            TeamRole::Member => roles::TeamRole::Member,
        }
    }
}

pub struct TeamNode(pub team::Model);

#[Object(name = "Team")]
impl TeamNode {
    async fn id(&self) -> ID {
        ID(TeamId(self.0.id).to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The caller's role; null for a secret key.
    async fn viewer_role(&self, ctx: &Context<'_>) -> GqlResult<Option<TeamRole>> {
        let role = loader::<TeamRoleLoader>(ctx)
            .load_one(self.0.id)
            .await
            .map_err(loader_error)?;
        Ok(role.map(TeamRole::from))
    }
    /// Members in a stable order (by user id), so pages never skip or repeat anyone.
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Conn<TeamMemberNode>> {
        let team = TeamId(self.0.id);
        let list = CursorList::new("teamMembers", team);
        let page = teams::list_members(
            services(ctx).db(),
            scope(ctx),
            team,
            list.forward_args(first, after)?,
        )
        .await?;
        Ok(list.connection(page, |m| m.user_id, TeamMemberNode))
    }
}

pub struct TeamMemberNode(pub team_member::Model);

#[Object(name = "TeamMember")]
impl TeamMemberNode {
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<UserNode> {
        load_user(ctx, self.0.user_id)
            .await?
            .ok_or_else(|| DomainError::internal("team member without a user"))
    }
    async fn role(&self) -> GqlResult<TeamRole> {
        Ok(teams::parse_role(&self.0.role)?.into())
    }
    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct TeamInvitationNode {
    pub id: Uuid,
    /// Present only in the payload that created it.
    pub code: Option<String>,
    pub email: String,
    pub role: TeamRole,
    pub expires_at: DateTime<Utc>,
    pub team: team::Model,
}

#[Object(name = "TeamInvitation")]
impl TeamInvitationNode {
    async fn id(&self) -> ID {
        ID(orbit_domain::ids::InvitationId(self.id).to_string())
    }
    /// The secret to pass to `joinTeam`; shown once, when the invitation is made.
    async fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
    async fn email(&self) -> &str {
        &self.email
    }
    async fn role(&self) -> TeamRole {
        self.role
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
    async fn team(&self) -> TeamNode {
        TeamNode(self.team.clone())
    }
}

pub struct ThreadNode(pub thread::Model);

#[Object(name = "Thread")]
impl ThreadNode {
    async fn id(&self) -> ID {
        ID(ThreadId(self.0.id).to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Set for a team's thread; null for a participant who is not on the team,
    /// as the team itself is not theirs to see.
    async fn team(&self, ctx: &Context<'_>) -> GqlResult<Option<TeamNode>> {
        let Some(team_id) = self.0.team_id else {
            return Ok(None);
        };
        if let Viewer::User { .. } = viewer(ctx) {
            let role = loader::<TeamRoleLoader>(ctx)
                .load_one(team_id)
                .await
                .map_err(loader_error)?;
            if role.is_none() {
                return Ok(None);
            }
        }
        let team = loader::<TeamLoader>(ctx)
            .load_one(team_id)
            .await
            .map_err(loader_error)?;
        Ok(team.map(TeamNode))
    }
    /// Set for a user's own thread.
    async fn owner(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        let Some(owner) = self.0.owner_user_id else {
            return Ok(None);
        };
        load_user(ctx, owner).await
    }
    /// Users added to the thread by name (owners and team members see it
    /// anyway) and the agents taking part, in the order they were added.
    async fn participants(&self, ctx: &Context<'_>) -> GqlResult<Vec<ThreadParticipantNode>> {
        let users = loader::<ParticipantsLoader>(ctx)
            .load_one(self.0.id)
            .await
            .map_err(loader_error)?;
        let agents = loader::<AgentParticipantsLoader>(ctx)
            .load_one(self.0.id)
            .await
            .map_err(loader_error)?;
        let mut all: Vec<ThreadParticipantNode> = users
            .unwrap_or_default()
            .into_iter()
            .map(ThreadParticipantNode::User)
            .chain(
                agents
                    .unwrap_or_default()
                    .into_iter()
                    .map(ThreadParticipantNode::Agent),
            )
            .collect();
        all.sort_by_key(ThreadParticipantNode::added_at_key);
        Ok(all)
    }
    /// Oldest first. `first/after` pages forward, `last/before` backward.
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<Conn<MessageNode>> {
        let thread = ThreadId(self.0.id);
        let list = CursorList::new("messages", thread);
        let args = list.page_args(first, after, last, before)?;
        let page = messages::list(services(ctx).db(), scope(ctx), thread, args).await?;
        Ok(list.connection(page, |m| m.id, MessageNode))
    }
    /// Messages by others after the caller's read marker; 0 for a secret key.
    async fn unread_count(&self, ctx: &Context<'_>) -> GqlResult<i32> {
        let count = loader::<UnreadLoader>(ctx)
            .load_one(self.0.id)
            .await
            .map_err(loader_error)?;
        Ok(i32::try_from(count.unwrap_or(0)).unwrap_or(i32::MAX))
    }
    async fn last_message_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_message_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A user or an agent taking part in a thread.
pub enum ThreadParticipantNode {
    User(thread_participant::Model),
    Agent(thread_agent::Model),
}

impl ThreadParticipantNode {
    fn added_at_key(&self) -> DateTime<Utc> {
        match self {
            ThreadParticipantNode::User(row) => row.added_at,
            ThreadParticipantNode::Agent(row) => row.added_at,
        }
    }
}

#[Object(name = "ThreadParticipant")]
impl ThreadParticipantNode {
    /// Set when the participant is a user.
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        let ThreadParticipantNode::User(row) = self else {
            return Ok(None);
        };
        load_user(ctx, row.user_id)
            .await?
            .map(Some)
            .ok_or_else(|| DomainError::internal("participant without a user"))
    }
    /// Set when the participant is an agent.
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> {
        let ThreadParticipantNode::Agent(row) = self else {
            return Ok(None);
        };
        load_agent(ctx, row.agent_id).await
    }
    async fn added_at(&self) -> DateTime<Utc> {
        self.added_at_key()
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "MessageStatus")]
pub enum MessageStatus {
    /// A person's message, or one a routine posted as its agent.
    Sent,
    /// An agent's reply, whole.
    Complete,
    /// An agent's reply that failed: what it said before (maybe nothing).
    Failed,
    /// An agent's reply stopped by `cancelAgentReply`: what it said before.
    Cancelled,
}

#[derive(Union)]
#[graphql(name = "MessageAuthor")]
pub enum MessageAuthor {
    User(UserNode),
    Agent(AgentNode),
}

pub struct MessageNode(pub message::Model);

#[Object(name = "Message")]
impl MessageNode {
    async fn id(&self) -> ID {
        ID(MessageId(self.0.id).to_string())
    }
    async fn thread(&self, ctx: &Context<'_>) -> GqlResult<ThreadNode> {
        loader::<ThreadLoader>(ctx)
            .load_one(self.0.thread_id)
            .await
            .map_err(loader_error)?
            .map(ThreadNode)
            .ok_or_else(|| DomainError::not_found("thread"))
    }
    /// A user, or an agent for its replies; null when the author was deleted.
    async fn author(&self, ctx: &Context<'_>) -> GqlResult<Option<Matched<MessageAuthor>>> {
        if let Some(agent) = self.0.author_agent_id {
            return Ok(load_agent(ctx, agent)
                .await?
                .map(|agent| Matched(MessageAuthor::Agent(agent))));
        }
        let Some(author) = self.0.author_user_id else {
            return Ok(None);
        };
        Ok(load_user(ctx, author)
            .await?
            .map(|user| Matched(MessageAuthor::User(user))))
    }
    /// Null once the message is deleted.
    async fn content(&self) -> Option<&str> {
        self.0.content.as_deref()
    }
    async fn metadata(&self) -> Option<Json> {
        self.0.metadata.clone().map(Json)
    }
    async fn status(&self) -> GqlResult<MessageStatus> {
        use orbit_domain::agents::MessageStatus as Stored;
        Ok(match self.0.status.parse::<Stored>()? {
            Stored::Sent => MessageStatus::Sent,
            Stored::Complete => MessageStatus::Complete,
            Stored::Failed => MessageStatus::Failed,
            Stored::Cancelled => MessageStatus::Cancelled,
        })
    }
    /// The model an agent's reply came from; null for people's messages.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    /// What an agent's reply cost in tokens; null for people's messages.
    async fn usage(&self) -> Option<TokenUsage> {
        TokenUsage::of(self.0.prompt_tokens, self.0.completion_tokens)
    }
    /// For an agent's message: the reply it ends (attempts, error).
    async fn agent_reply(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentReplyNode>> {
        if self.0.author_agent_id.is_none() {
            return Ok(None);
        }
        let scope = orbit_domain::ids::AppScope::new(AppId(self.0.app_id));
        Ok(orbit_persistence::agent_replies::answered_by(
            services(ctx).db(),
            scope,
            MessageId(self.0.id),
        )
        .await?
        .map(AgentReplyNode))
    }
    /// The replies this message asked agents for (one per agent it asked).
    async fn agent_replies(&self, ctx: &Context<'_>) -> GqlResult<Vec<AgentReplyNode>> {
        let replies = loader::<RepliesAskedLoader>(ctx)
            .load_one(self.0.id)
            .await
            .map_err(loader_error)?;
        Ok(replies
            .unwrap_or_default()
            .into_iter()
            .map(AgentReplyNode)
            .collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.0.edited_at
    }
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
}

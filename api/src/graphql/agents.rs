//! Agents and model providers: managed by the app's secret key and its
//! developers (`managed_app`: viewers read, developers and up change);
//! users of the app see its agents' public side (name, handle, reply mode,
//! status), as they meet them in threads. Replies: `agentReply`,
//! `cancelAgentReply`, and the replies a message asked for.

use super::scalars::Json;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_domain::agents::{
    self as rules, AgentStatus, DEFAULT_IDLE_TIMEOUT_SECS, DEFAULT_REQUEST_TIMEOUT_SECS,
    MAX_IDLE_TIMEOUT_SECS, MAX_REQUEST_TIMEOUT_SECS, ProviderKind, ReplyMode, ReplyStatus, Script,
};
use orbit_domain::builtin_tools::BuiltinTool;
use orbit_domain::entities::{agent, agent_reply, model_provider};
use orbit_domain::ids::{
    AgentId, AgentReplyId, AppId, AppScope, MessageId, ModelProviderId, ThreadId,
};
use orbit_domain::policy::{
    AppAction, ThreadAccess, authorize_cancel_reply, authorize_decide_tool_call,
};
use orbit_domain::{DomainError, DomainResult, SealContext, validation};
use orbit_persistence::agents::{AgentChanges, ModelSettings, NewAgent};
use orbit_persistence::model_providers::{self, NewProvider, ProviderChanges};
use orbit_persistence::{agent_replies, agents, messages, tool_calls};
use serde_json::Value;

use super::loaders::{AgentLoader, ThreadLoader};
use super::pagination::{Conn, CursorList};
use super::tools::{AgentToolCallNode, ToolNode};
use super::types::{MessageNode, ThreadNode};
use super::{GqlResult, loader, loader_error, scope, services, viewer};
use crate::Services;
use crate::application::app_vars::Vars;
use crate::application::{access, tools};
use crate::viewer::{Actor, Viewer};

const API_KEY_PURPOSE: &str = "model_provider.api_key";

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ModelProviderKind")]
pub enum ModelProviderKind {
    /// Any OpenAI-compatible chat completions endpoint: OpenAI, Ollama,
    /// vLLM, the llama.cpp server.
    #[graphql(name = "OPENAI_COMPATIBLE")]
    OpenAiCompatible,
    /// Deterministic replies from a script, for demos and tests.
    Scripted,
}

impl From<ModelProviderKind> for ProviderKind {
    fn from(kind: ModelProviderKind) -> Self {
        match kind {
            ModelProviderKind::OpenAiCompatible => ProviderKind::OpenAiCompatible,
            ModelProviderKind::Scripted => ProviderKind::Scripted,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "AgentReplyMode")]
pub enum AgentReplyMode {
    /// Every message a person writes in the thread.
    Always,
    /// Messages that mention the agent's `@handle`.
    Mention,
}

impl From<AgentReplyMode> for ReplyMode {
    fn from(mode: AgentReplyMode) -> Self {
        match mode {
            AgentReplyMode::Always => ReplyMode::Always,
            AgentReplyMode::Mention => ReplyMode::Mention,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "AgentStatus")]
pub enum AgentStatusValue {
    Active,
    /// Stays in its threads, answers nothing new.
    Paused,
}

impl From<AgentStatusValue> for AgentStatus {
    fn from(status: AgentStatusValue) -> Self {
        match status {
            AgentStatusValue::Active => AgentStatus::Active,
            AgentStatusValue::Paused => AgentStatus::Paused,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "AgentReplyStatus")]
pub enum AgentReplyStatus {
    Queued,
    Running,
    /// Paused: a tool call waits for `decideToolCall` (see the reply's
    /// `steps`).
    AwaitingApproval,
    Completed,
    Failed,
    Cancelled,
}

impl From<ReplyStatus> for AgentReplyStatus {
    fn from(status: ReplyStatus) -> Self {
        match status {
            ReplyStatus::Queued => AgentReplyStatus::Queued,
            ReplyStatus::Running => AgentReplyStatus::Running,
            ReplyStatus::Completed => AgentReplyStatus::Completed,
            ReplyStatus::Failed => AgentReplyStatus::Failed,
            ReplyStatus::Cancelled => AgentReplyStatus::Cancelled,
        }
    }
}

/// Tokens a reply used, as the provider reported them (or estimated, about
/// four characters a token, when it did not).
#[derive(SimpleObject, Clone, Copy)]
pub struct TokenUsage {
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub total_tokens: i32,
}

impl TokenUsage {
    pub fn of(prompt: Option<i32>, completion: Option<i32>) -> Option<Self> {
        let (prompt_tokens, completion_tokens) = (prompt.unwrap_or(0), completion?);
        Some(Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
        })
    }
}

pub struct ModelProviderNode(pub model_provider::Model);

#[Object(name = "ModelProvider")]
impl ModelProviderNode {
    async fn id(&self) -> ID {
        ID(ModelProviderId(self.0.id).to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> ModelProviderKind {
        match self.0.kind.parse::<ProviderKind>() {
            Ok(ProviderKind::OpenAiCompatible) => ModelProviderKind::OpenAiCompatible,
            _ => ModelProviderKind::Scripted,
        }
    }
    /// Where `/chat/completions` is, e.g. `https://api.openai.com/v1`.
    async fn base_url(&self) -> Option<&str> {
        self.0.base_url.as_deref()
    }
    /// Whether an API key is set. The key itself is never returned.
    async fn has_api_key(&self) -> bool {
        self.0.api_key_sealed.is_some()
    }
    async fn script(&self) -> Option<Json> {
        self.0.script.clone().map(Json)
    }
    /// The longest one attempt of a reply may take.
    async fn request_timeout_seconds(&self) -> i32 {
        self.0.request_timeout_secs
    }
    /// The longest wait for the response or the next piece of it.
    async fn idle_timeout_seconds(&self) -> i32 {
        self.0.idle_timeout_secs
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An agent. `full` when the caller manages the app (its secret key or a
/// developer), who also see its instructions, model and replies.
pub struct AgentNode {
    pub model: agent::Model,
    pub full: bool,
}

impl AgentNode {
    /// As users of the app meet it (a participant, an author): the private
    /// fields are shown to the app's secret key only.
    pub fn public(model: agent::Model) -> Self {
        Self { model, full: false }
    }

    fn managed(&self, ctx: &Context<'_>) -> bool {
        self.full || matches!(viewer(ctx), Viewer::Secret { .. })
    }

    fn scope(&self) -> AppScope {
        AppScope::new(AppId(self.model.app_id))
    }
}

#[Object(name = "Agent")]
impl AgentNode {
    async fn id(&self) -> ID {
        ID(AgentId(self.model.id).to_string())
    }
    async fn name(&self) -> &str {
        &self.model.name
    }
    /// `@handle` mentions the agent in a message.
    async fn handle(&self) -> &str {
        &self.model.handle
    }
    async fn reply_mode(&self) -> AgentReplyMode {
        match self.model.reply_mode.parse::<ReplyMode>() {
            Ok(ReplyMode::Mention) => AgentReplyMode::Mention,
            _ => AgentReplyMode::Always,
        }
    }
    async fn status(&self) -> AgentStatusValue {
        match self.model.status.parse::<AgentStatus>() {
            Ok(AgentStatus::Paused) => AgentStatusValue::Paused,
            _ => AgentStatusValue::Active,
        }
    }
    /// The system prompt. For the app's secret key and developers; null for users.
    async fn instructions(&self, ctx: &Context<'_>) -> Option<&str> {
        self.managed(ctx)
            .then_some(self.model.instructions.as_str())
    }
    /// The most model turns one reply may take (each may call tools): for
    /// the app's secret key and developers; null for users.
    async fn max_steps(&self, ctx: &Context<'_>) -> Option<i32> {
        self.managed(ctx).then_some(self.model.max_steps)
    }
    /// For the app's secret key and developers; null for users.
    async fn model(&self, ctx: &Context<'_>) -> Option<AgentModel> {
        self.managed(ctx).then(|| AgentModel(self.model.clone()))
    }
    /// The agent's replies, newest first, with their errors: for the app's
    /// secret key and developers; null for users.
    async fn replies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Option<Conn<AgentReplyNode>>> {
        if !self.managed(ctx) {
            return Ok(None);
        }
        let agent = AgentId(self.model.id);
        let list = CursorList::new("agentReplies", agent);
        let page = agent_replies::list_for_agent(
            services(ctx).db(),
            self.scope(),
            agent,
            list.forward_args(first, after)?,
        )
        .await?;
        Ok(Some(list.connection(page, |r| r.id, AgentReplyNode)))
    }
    /// The tools the agent may call, by name: for the app's secret key and
    /// developers; null for users.
    async fn tools(&self, ctx: &Context<'_>) -> GqlResult<Option<Vec<ToolNode>>> {
        if !self.managed(ctx) {
            return Ok(None);
        }
        let tools = tools::of_agent(services(ctx), &self.model).await?;
        Ok(Some(tools.into_iter().map(ToolNode).collect()))
    }
    /// Orbit's own tools it may call (null for users of the app).
    async fn builtin_tools(&self, ctx: &Context<'_>) -> GqlResult<Option<Vec<BuiltinToolValue>>> {
        if !self.managed(ctx) {
            return Ok(None);
        }
        Ok(Some(
            BuiltinTool::read(&self.model.builtin_tools)?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
}

pub struct AgentModel(agent::Model);

#[Object(name = "AgentModel")]
impl AgentModel {
    async fn provider(&self, ctx: &Context<'_>) -> GqlResult<ModelProviderNode> {
        let scope = AppScope::new(AppId(self.0.app_id));
        model_providers::find(
            services(ctx).db(),
            scope,
            ModelProviderId(self.0.provider_id),
        )
        .await?
        .map(ModelProviderNode)
        .ok_or_else(|| DomainError::internal("an agent without its provider"))
    }
    /// The provider's model name (`gpt-4o-mini`, `llama3.2`).
    async fn model(&self) -> &str {
        &self.0.model
    }
    async fn temperature(&self) -> Option<f64> {
        self.0.temperature
    }
    async fn max_tokens(&self) -> Option<i32> {
        self.0.max_tokens
    }
}

/// A reply an agent owes a thread, from queued to its end.
pub struct AgentReplyNode(pub agent_reply::Model);

#[Object(name = "AgentReply")]
impl AgentReplyNode {
    async fn id(&self) -> ID {
        ID(AgentReplyId(self.0.id).to_string())
    }
    async fn status(&self, ctx: &Context<'_>) -> GqlResult<AgentReplyStatus> {
        let status = self.0.status.parse::<ReplyStatus>()?;
        // A paused reply is queued again, having run: only such a one may
        // wait on a call.
        if status == ReplyStatus::Queued && self.0.attempts > 0 {
            let scope = AppScope::new(AppId(self.0.app_id));
            if tool_calls::awaits_approval(services(ctx).db(), scope, self.0.id).await? {
                return Ok(AgentReplyStatus::AwaitingApproval);
            }
        }
        Ok(status.into())
    }
    /// Claims so far: a retry after a provider error, a takeover after the
    /// process streaming it stopped, and going on after a pause for a tool
    /// call's approval each count one (deltas start afresh with each).
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// The tools the reply called, in the order the model asked: each call
    /// with its arguments, its result or error, and its timing.
    async fn steps(&self, ctx: &Context<'_>) -> GqlResult<Vec<AgentToolCallNode>> {
        let scope = AppScope::new(AppId(self.0.app_id));
        let calls = tools::calls_of_reply(services(ctx), scope, AgentReplyId(self.0.id)).await?;
        Ok(calls.into_iter().map(AgentToolCallNode).collect())
    }
    /// Null if the agent was deleted.
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> {
        load_agent(ctx, self.0.agent_id).await
    }
    async fn thread(&self, ctx: &Context<'_>) -> GqlResult<Option<ThreadNode>> {
        Ok(loader::<ThreadLoader>(ctx)
            .load_one(self.0.thread_id)
            .await
            .map_err(loader_error)?
            .map(ThreadNode))
    }
    /// The message that asked for the reply (null for a routine's prompt).
    async fn trigger_message(&self, ctx: &Context<'_>) -> GqlResult<Option<MessageNode>> {
        let Some(trigger) = self.0.trigger_message_id else {
            return Ok(None);
        };
        let scope = AppScope::new(AppId(self.0.app_id));
        Ok(
            messages::find(services(ctx).db(), scope, MessageId(trigger))
                .await?
                .map(MessageNode),
        )
    }
    /// What was asked, when no message asked (a routine's prompt).
    async fn prompt(&self) -> Option<&str> {
        self.0.prompt.as_deref()
    }
    /// The model that answered, as the provider named it.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    async fn usage(&self) -> Option<TokenUsage> {
        TokenUsage::of(self.0.prompt_tokens, self.0.completion_tokens)
    }
    /// Why it failed, or why the last attempt did while it waits to retry.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The agent's message, once the reply ended with one.
    async fn message(&self, ctx: &Context<'_>) -> GqlResult<Option<MessageNode>> {
        let Some(id) = self.0.reply_message_id else {
            return Ok(None);
        };
        let scope = AppScope::new(AppId(self.0.app_id));
        Ok(messages::find(services(ctx).db(), scope, MessageId(id))
            .await?
            .map(MessageNode))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}

pub(crate) async fn load_agent(ctx: &Context<'_>, id: uuid::Uuid) -> GqlResult<Option<AgentNode>> {
    Ok(loader::<AgentLoader>(ctx)
        .load_one(id)
        .await
        .map_err(loader_error)?
        .map(AgentNode::public))
}

/// The app whose agents the caller reads, and whether the caller manages it.
/// A user of the app reads their own app's agents (public side); the
/// secret key and developers go through `managed_app`.
async fn agent_reader(ctx: &Context<'_>, app_id: Option<&ID>) -> GqlResult<(AppScope, bool)> {
    let viewer = viewer(ctx);
    if let (
        Viewer::User {
            app,
            developer: false,
            ..
        },
        None,
    ) = (viewer, app_id)
    {
        return Ok((*app, false));
    }
    let (scope, _) = access::managed_app(
        services(ctx),
        viewer,
        app_id.map(|id| id.as_str()),
        AppAction::View,
    )
    .await?;
    Ok((scope, true))
}

async fn builder(services: &Services, viewer: &Viewer, app_id: Option<&ID>) -> GqlResult<AppScope> {
    let (scope, _) = access::managed_app(
        services,
        viewer,
        app_id.map(|id| id.as_str()),
        AppAction::Build,
    )
    .await?;
    Ok(scope)
}

#[derive(Default)]
pub struct AgentQuery;

#[Object]
impl AgentQuery {
    /// An agent of the app; null (NOT_FOUND) when there is none by this id.
    /// Developers name the app in `appId`.
    async fn agent(
        &self,
        ctx: &Context<'_>,
        id: ID,
        app_id: Option<ID>,
    ) -> GqlResult<Option<AgentNode>> {
        let id = AgentId::parse_field(&id, "id")?;
        let (scope, full) = agent_reader(ctx, app_id.as_ref()).await?;
        let found = agents::find(services(ctx).db(), scope, id)
            .await?
            .ok_or_else(|| DomainError::not_found("agent").with_field("id"))?;
        Ok(Some(AgentNode { model: found, full }))
    }

    /// The app's agents, oldest first. Developers name the app in `appId`.
    async fn agents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        app_id: Option<ID>,
    ) -> GqlResult<Conn<AgentNode>> {
        let (scope, full) = agent_reader(ctx, app_id.as_ref()).await?;
        let list = CursorList::new("agents", scope.app_id());
        let page =
            agents::list(services(ctx).db(), scope, list.forward_args(first, after)?).await?;
        Ok(list.connection(page, |a| a.id, |model| AgentNode { model, full }))
    }

    /// A model provider: for the app's secret key and developers.
    async fn model_provider(
        &self,
        ctx: &Context<'_>,
        id: ID,
        app_id: Option<ID>,
    ) -> GqlResult<Option<ModelProviderNode>> {
        let id = ModelProviderId::parse_field(&id, "id")?;
        let (scope, _) = access::managed_app(
            services(ctx),
            viewer(ctx),
            app_id.as_ref().map(|id| id.as_str()),
            AppAction::View,
        )
        .await?;
        let found = model_providers::find(services(ctx).db(), scope, id)
            .await?
            .ok_or_else(|| DomainError::not_found("model provider").with_field("id"))?;
        Ok(Some(ModelProviderNode(found)))
    }

    /// The app's model providers, oldest first: for its secret key and developers.
    async fn model_providers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        app_id: Option<ID>,
    ) -> GqlResult<Conn<ModelProviderNode>> {
        let (scope, _) = access::managed_app(
            services(ctx),
            viewer(ctx),
            app_id.as_ref().map(|id| id.as_str()),
            AppAction::View,
        )
        .await?;
        let list = CursorList::new("modelProviders", scope.app_id());
        let page =
            model_providers::list(services(ctx).db(), scope, list.forward_args(first, after)?)
                .await?;
        Ok(list.connection(page, |p| p.id, ModelProviderNode))
    }

    /// A reply, for whoever may read its thread.
    async fn agent_reply(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<AgentReplyNode>> {
        let id = AgentReplyId::parse_field(&id, "id")?;
        let (reply, _) = visible_reply(ctx, id, "id").await?;
        Ok(Some(AgentReplyNode(reply)))
    }
}

/// A reply of the caller's app in a thread the caller may read.
async fn visible_reply(
    ctx: &Context<'_>,
    id: AgentReplyId,
    field: &str,
) -> GqlResult<(agent_reply::Model, orbit_domain::policy::ThreadAccess)> {
    let services = services(ctx);
    let viewer = viewer(ctx);
    viewer.actor()?;
    let not_found = || DomainError::not_found("agent reply").with_field(field);
    let reply = agent_replies::find(services.db(), viewer.app(), id)
        .await?
        .ok_or_else(not_found)?;
    let (_, thread_access) = access::thread(services, viewer, ThreadId(reply.thread_id), field)
        .await
        .map_err(|_| not_found())?;
    Ok((reply, thread_access))
}

#[derive(InputObject)]
pub struct CreateModelProviderInput {
    /// The app: required for developers, may be omitted with the secret key.
    app_id: Option<ID>,
    name: String,
    kind: ModelProviderKind,
    /// OPENAI_COMPATIBLE: where `/chat/completions` is (`https://api.openai.com/v1`,
    /// `http://localhost:11434/v1` for Ollama). Public addresses only,
    /// unless the server sets ORBIT_WEBHOOK_ALLOW_PRIVATE.
    base_url: Option<String>,
    /// Sent as `Authorization: Bearer <apiKey>`. Stored encrypted; never returned.
    api_key: Option<String>,
    /// SCRIPTED: `{"rules": [{"when", "reply"}], "default", "chunkChars", "fail"}`.
    script: Option<Json>,
    /// Default 300.
    request_timeout_seconds: Option<i32>,
    /// Default 60.
    idle_timeout_seconds: Option<i32>,
}

#[derive(SimpleObject)]
pub struct CreateModelProviderPayload {
    model_provider: ModelProviderNode,
}

#[derive(InputObject)]
pub struct UpdateModelProviderInput {
    app_id: Option<ID>,
    id: ID,
    name: Option<String>,
    base_url: Option<String>,
    /// A new key; an empty string removes the key. Omitted keeps it.
    api_key: Option<String>,
    script: Option<Json>,
    request_timeout_seconds: Option<i32>,
    idle_timeout_seconds: Option<i32>,
}

#[derive(SimpleObject)]
pub struct UpdateModelProviderPayload {
    model_provider: ModelProviderNode,
}

#[derive(InputObject)]
pub struct DeleteModelProviderInput {
    app_id: Option<ID>,
    id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteModelProviderPayload {
    deleted_model_provider_id: ID,
}

#[derive(InputObject)]
pub struct SetAgentToolsInput {
    app_id: Option<ID>,
    agent_id: ID,
    /// Tools of the agent's app; repeats count once.
    tool_ids: Vec<ID>,
    /// Orbit's own tools the agent may call (they act with the agent's
    /// access: threads it takes part in, its own routines); omitted, the
    /// ones it has stay.
    builtin_tools: Option<Vec<BuiltinToolValue>>,
}

/// A tool Orbit itself offers agents, called as `orbit_<name>`.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "BuiltinTool")]
pub enum BuiltinToolValue {
    /// `orbit_read_thread`: the latest messages of a thread the agent takes part in.
    ReadThread,
    /// `orbit_post_message`: a message as the agent in a thread it takes part in.
    PostMessage,
    /// `orbit_run_routine`: runs one of the agent's routines now.
    RunRoutine,
}

impl From<BuiltinToolValue> for BuiltinTool {
    fn from(value: BuiltinToolValue) -> Self {
        match value {
            BuiltinToolValue::ReadThread => BuiltinTool::ReadThread,
            BuiltinToolValue::PostMessage => BuiltinTool::PostMessage,
            BuiltinToolValue::RunRoutine => BuiltinTool::RunRoutine,
        }
    }
}

impl From<BuiltinTool> for BuiltinToolValue {
    fn from(value: BuiltinTool) -> Self {
        match value {
            BuiltinTool::ReadThread => BuiltinToolValue::ReadThread,
            BuiltinTool::PostMessage => BuiltinToolValue::PostMessage,
            BuiltinTool::RunRoutine => BuiltinToolValue::RunRoutine,
        }
    }
}

#[derive(SimpleObject)]
pub struct SetAgentToolsPayload {
    agent: AgentNode,
}

#[derive(InputObject)]
pub struct AgentModelInput {
    /// A model provider of the app.
    provider: ID,
    /// The provider's model name (`gpt-4o-mini`, `llama3.2`).
    model: String,
    /// 0 to 2; the provider's default when omitted.
    temperature: Option<f64>,
    /// 1 to 32768; the provider's default when omitted.
    max_tokens: Option<i32>,
}

#[derive(InputObject)]
pub struct CreateAgentInput {
    app_id: Option<ID>,
    name: String,
    /// 2 to 32 of a-z, 0-9, `_`, `-`, starting with a letter; unique in the app.
    handle: String,
    /// The system prompt. Default empty.
    instructions: Option<String>,
    model: AgentModelInput,
    /// Default ALWAYS.
    reply_mode: Option<AgentReplyMode>,
    /// Default ACTIVE.
    status: Option<AgentStatusValue>,
    /// The most model turns one reply may take, each of which may call
    /// tools: 1 to 32, default 8.
    max_steps: Option<i32>,
}

#[derive(SimpleObject)]
pub struct CreateAgentPayload {
    agent: AgentNode,
}

#[derive(InputObject)]
pub struct UpdateAgentInput {
    app_id: Option<ID>,
    id: ID,
    name: Option<String>,
    handle: Option<String>,
    instructions: Option<String>,
    /// Replaces the whole model setting.
    model: Option<AgentModelInput>,
    reply_mode: Option<AgentReplyMode>,
    status: Option<AgentStatusValue>,
    max_steps: Option<i32>,
}

#[derive(SimpleObject)]
pub struct UpdateAgentPayload {
    agent: AgentNode,
}

#[derive(InputObject)]
pub struct DeleteAgentInput {
    app_id: Option<ID>,
    id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteAgentPayload {
    deleted_agent_id: ID,
}

#[derive(InputObject)]
pub struct CancelAgentReplyInput {
    reply_id: ID,
    /// For developers: the app of the reply.
    app_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct CancelAgentReplyPayload {
    reply: AgentReplyNode,
}

#[derive(InputObject)]
pub struct DecideToolCallInput {
    reply_id: ID,
    /// The model's id for the call (`AgentToolCall.callId`).
    call_id: String,
    /// true makes the call; false refuses it (the model is told).
    approve: bool,
    /// For developers: the app of the reply.
    app_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct DecideToolCallPayload {
    reply: AgentReplyNode,
    /// The call as decided: RUNNING when approved, FAILED when refused.
    call: AgentToolCallNode,
}

fn timeout(field: &str, value: Option<i32>, default: i32, max: i32) -> GqlResult<i32> {
    value.map_or(Ok(default), |v| rules::timeout_secs(field, v, max))
}

/// A base URL the server may call: http(s), and a public address unless
/// the server allows private ones (names are checked again on each call).
fn base_url(services: &Services, value: &str) -> GqlResult<String> {
    let checked = validation::http_url("baseUrl", value)?;
    let url = url::Url::parse(&checked)
        .map_err(|_| DomainError::bad_input("baseUrl", "must be an http(s) URL"))?;
    services.outbound().check(&url).map_err(|refused| {
        DomainError::bad_input(
            "baseUrl",
            format!("{refused}: the server calls public addresses only (ORBIT_WEBHOOK_ALLOW_PRIVATE allows local ones)"),
        )
    })?;
    Ok(checked)
}

fn seal_key(services: &Services, scope: AppScope, id: ModelProviderId, key: &str) -> String {
    services
        .sealer()
        .seal(key, &SealContext::new(scope.app_id(), API_KEY_PURPOSE, id))
}

fn script_value(field: &str, script: Option<&Value>) -> GqlResult<Value> {
    let parsed = Script::parse(field, script)?;
    serde_json::to_value(parsed).map_err(DomainError::internal)
}

/// Checks an agent's model input; the provider must be of the same app
/// (another app's answers NOT_FOUND, as one that does not exist).
async fn model_settings(
    services: &Services,
    scope: AppScope,
    model: AgentModelInput,
) -> GqlResult<ModelSettings> {
    let provider = ModelProviderId::parse_field(&model.provider, "model.provider")?;
    model_providers::find(services.db(), scope, provider)
        .await?
        .ok_or_else(|| DomainError::not_found("model provider").with_field("model.provider"))?;
    Ok(ModelSettings {
        provider,
        model: rules::model_name("model.model", &model.model)?,
        temperature: model
            .temperature
            .map(|t| rules::temperature("model.temperature", t))
            .transpose()?,
        max_tokens: model
            .max_tokens
            .map(|t| rules::max_tokens("model.maxTokens", t))
            .transpose()?,
    })
}

#[derive(Default)]
pub struct AgentMutation;

#[Object]
impl AgentMutation {
    /// Adds a model provider (the app's secret key, or a developer).
    async fn create_model_provider(
        &self,
        ctx: &Context<'_>,
        input: CreateModelProviderInput,
    ) -> GqlResult<CreateModelProviderPayload> {
        let services = services(ctx);
        let scope = builder(services, viewer(ctx), input.app_id.as_ref()).await?;
        let name = validation::text_line("name", &input.name, validation::MAX_NAME_CHARS)?;
        let id = ModelProviderId::generate();
        let script = input.script.map(|Json(value)| value);
        let (base_url, api_key_sealed, script) = match input.kind {
            ModelProviderKind::OpenAiCompatible => {
                if script.is_some() {
                    return Err(DomainError::bad_input(
                        "script",
                        "only SCRIPTED providers have a script",
                    ));
                }
                let url = input.base_url.as_deref().ok_or_else(|| {
                    DomainError::bad_input("baseUrl", "OPENAI_COMPATIBLE needs a baseUrl")
                })?;
                let key = input
                    .api_key
                    .as_deref()
                    .filter(|key| !key.is_empty())
                    .map(|key| rules::api_key("apiKey", key))
                    .transpose()?;
                (
                    Some(base_url(services, url)?),
                    key.map(|key| seal_key(services, scope, id, &key)),
                    None,
                )
            }
            ModelProviderKind::Scripted => {
                if input.base_url.is_some() || input.api_key.is_some() {
                    let field = if input.base_url.is_some() {
                        "baseUrl"
                    } else {
                        "apiKey"
                    };
                    return Err(DomainError::bad_input(
                        field,
                        "SCRIPTED providers call nothing",
                    ));
                }
                (None, None, Some(script_value("script", script.as_ref())?))
            }
        };
        let provider = model_providers::create(
            services.db(),
            scope,
            services.clock().now(),
            NewProvider {
                id,
                name,
                kind: ProviderKind::from(input.kind).as_str(),
                base_url,
                api_key_sealed,
                script,
                request_timeout_secs: timeout(
                    "requestTimeoutSeconds",
                    input.request_timeout_seconds,
                    DEFAULT_REQUEST_TIMEOUT_SECS,
                    MAX_REQUEST_TIMEOUT_SECS,
                )?,
                idle_timeout_secs: timeout(
                    "idleTimeoutSeconds",
                    input.idle_timeout_seconds,
                    DEFAULT_IDLE_TIMEOUT_SECS,
                    MAX_IDLE_TIMEOUT_SECS,
                )?,
            },
        )
        .await?;
        Ok(CreateModelProviderPayload {
            model_provider: ModelProviderNode(provider),
        })
    }

    /// Changes a provider; fields left out keep their values.
    async fn update_model_provider(
        &self,
        ctx: &Context<'_>,
        input: UpdateModelProviderInput,
    ) -> GqlResult<UpdateModelProviderPayload> {
        let services = services(ctx);
        let scope = builder(services, viewer(ctx), input.app_id.as_ref()).await?;
        let id = ModelProviderId::parse_field(&input.id, "id")?;
        let existing = model_providers::find(services.db(), scope, id)
            .await?
            .ok_or_else(|| DomainError::not_found("model provider").with_field("id"))?;
        let kind: ProviderKind = existing.kind.parse()?;
        let mut changes = ProviderChanges {
            name: input
                .name
                .as_deref()
                .map(|name| validation::text_line("name", name, validation::MAX_NAME_CHARS))
                .transpose()?,
            ..Default::default()
        };
        match kind {
            ProviderKind::OpenAiCompatible => {
                if input.script.is_some() {
                    return Err(DomainError::bad_input(
                        "script",
                        "only SCRIPTED providers have a script",
                    ));
                }
                if let Some(url) = &input.base_url {
                    changes.base_url = Some(base_url(services, url)?);
                }
                changes.api_key_sealed = match input.api_key.as_deref() {
                    None => None,
                    Some("") => Some(None),
                    Some(key) => {
                        let key = rules::api_key("apiKey", key)?;
                        Some(Some(seal_key(services, scope, id, &key)))
                    }
                };
            }
            ProviderKind::Scripted => {
                if input.base_url.is_some() || input.api_key.is_some() {
                    let field = if input.base_url.is_some() {
                        "baseUrl"
                    } else {
                        "apiKey"
                    };
                    return Err(DomainError::bad_input(
                        field,
                        "SCRIPTED providers call nothing",
                    ));
                }
                if let Some(Json(script)) = &input.script {
                    changes.script = Some(script_value("script", Some(script))?);
                }
            }
        }
        changes.request_timeout_secs = input
            .request_timeout_seconds
            .map(|s| rules::timeout_secs("requestTimeoutSeconds", s, MAX_REQUEST_TIMEOUT_SECS))
            .transpose()?;
        changes.idle_timeout_secs = input
            .idle_timeout_seconds
            .map(|s| rules::timeout_secs("idleTimeoutSeconds", s, MAX_IDLE_TIMEOUT_SECS))
            .transpose()?;
        let provider =
            model_providers::update(services.db(), existing, services.clock().now(), changes)
                .await?;
        Ok(UpdateModelProviderPayload {
            model_provider: ModelProviderNode(provider),
        })
    }

    /// Gives the agent exactly these tools of its app (an empty list takes
    /// them all away); at most 32.
    async fn set_agent_tools(
        &self,
        ctx: &Context<'_>,
        input: SetAgentToolsInput,
    ) -> GqlResult<SetAgentToolsPayload> {
        let tool_ids: Vec<String> = input.tool_ids.into_iter().map(|id| id.0).collect();
        let builtins: Option<Vec<BuiltinTool>> = input
            .builtin_tools
            .map(|tools| tools.into_iter().map(Into::into).collect());
        let agent = tools::set_for_agent(
            services(ctx),
            viewer(ctx),
            input.app_id.as_deref().map(String::as_str),
            &input.agent_id,
            &tool_ids,
            builtins.as_deref(),
        )
        .await?;
        Ok(SetAgentToolsPayload {
            agent: AgentNode {
                model: agent,
                full: true,
            },
        })
    }

    /// Deletes a provider no agent uses (CONFLICT otherwise).
    async fn delete_model_provider(
        &self,
        ctx: &Context<'_>,
        input: DeleteModelProviderInput,
    ) -> GqlResult<DeleteModelProviderPayload> {
        let services = services(ctx);
        let scope = builder(services, viewer(ctx), input.app_id.as_ref()).await?;
        let id = ModelProviderId::parse_field(&input.id, "id")?;
        model_providers::delete(services.db(), scope, id).await?;
        Ok(DeleteModelProviderPayload {
            deleted_model_provider_id: input.id,
        })
    }

    /// Creates an agent (the app's secret key, or a developer).
    async fn create_agent(
        &self,
        ctx: &Context<'_>,
        input: CreateAgentInput,
    ) -> GqlResult<CreateAgentPayload> {
        let services = services(ctx);
        let scope = builder(services, viewer(ctx), input.app_id.as_ref()).await?;
        let new = NewAgent {
            name: validation::text_line("name", &input.name, validation::MAX_NAME_CHARS)?,
            handle: rules::handle("handle", &input.handle)?,
            instructions: rules::instructions(
                "instructions",
                input.instructions.as_deref().unwrap_or_default(),
            )?,
            model: model_settings(services, scope, input.model).await?,
            reply_mode: input.reply_mode.unwrap_or(AgentReplyMode::Always).into(),
            status: input.status.unwrap_or(AgentStatusValue::Active).into(),
            max_steps: rules::max_steps(
                "maxSteps",
                input.max_steps.unwrap_or(rules::DEFAULT_MAX_STEPS),
            )?,
        };
        Vars::of(services, scope)
            .await?
            .check("instructions", &new.instructions)?;
        let created = agents::create(services.db(), scope, services.clock().now(), new).await?;
        Ok(CreateAgentPayload {
            agent: AgentNode {
                model: created,
                full: true,
            },
        })
    }

    /// Changes an agent; fields left out keep their values.
    async fn update_agent(
        &self,
        ctx: &Context<'_>,
        input: UpdateAgentInput,
    ) -> GqlResult<UpdateAgentPayload> {
        let services = services(ctx);
        let scope = builder(services, viewer(ctx), input.app_id.as_ref()).await?;
        let id = AgentId::parse_field(&input.id, "id")?;
        let existing = agents::find(services.db(), scope, id)
            .await?
            .ok_or_else(|| DomainError::not_found("agent").with_field("id"))?;
        let changes = AgentChanges {
            name: input
                .name
                .as_deref()
                .map(|name| validation::text_line("name", name, validation::MAX_NAME_CHARS))
                .transpose()?,
            handle: input
                .handle
                .as_deref()
                .map(|handle| rules::handle("handle", handle))
                .transpose()?,
            instructions: input
                .instructions
                .as_deref()
                .map(|text| rules::instructions("instructions", text))
                .transpose()?,
            model: match input.model {
                Some(model) => Some(model_settings(services, scope, model).await?),
                None => None,
            },
            reply_mode: input.reply_mode.map(Into::into),
            status: input.status.map(Into::into),
            max_steps: input
                .max_steps
                .map(|steps| rules::max_steps("maxSteps", steps))
                .transpose()?,
        };
        if let Some(instructions) = &changes.instructions {
            Vars::of(services, scope)
                .await?
                .check("instructions", instructions)?;
        }
        let updated =
            agents::update(services.db(), existing, services.clock().now(), changes).await?;
        Ok(UpdateAgentPayload {
            agent: AgentNode {
                model: updated,
                full: true,
            },
        })
    }

    /// Deletes an agent: it leaves its threads and its pending replies are
    /// dropped; the messages it wrote stay (with no author).
    async fn delete_agent(
        &self,
        ctx: &Context<'_>,
        input: DeleteAgentInput,
    ) -> GqlResult<DeleteAgentPayload> {
        let services = services(ctx);
        let scope = builder(services, viewer(ctx), input.app_id.as_ref()).await?;
        let id = AgentId::parse_field(&input.id, "id")?;
        agents::delete(services.db(), scope, id).await?;
        Ok(DeleteAgentPayload {
            deleted_agent_id: input.id,
        })
    }

    /// Stops a reply. The thread's managers, the app (its secret key and
    /// developers) and the person whose message asked may cancel. What the
    /// agent said so far is stored as a CANCELLED message; subscribers get
    /// `agent_reply.failed` with status CANCELLED. CONFLICT once it ended.
    async fn cancel_agent_reply(
        &self,
        ctx: &Context<'_>,
        input: CancelAgentReplyInput,
    ) -> GqlResult<CancelAgentReplyPayload> {
        let services = services(ctx);
        let (scope, reply) = reply_to_control(
            ctx,
            &input.reply_id,
            input.app_id.as_ref(),
            authorize_cancel_reply,
        )
        .await?;
        let reply =
            agent_replies::request_cancel(services.db(), scope, &reply, services.clock().now())
                .await?;
        // The process streaming it may be this one: let it look now.
        services.wake_worker();
        Ok(CancelAgentReplyPayload {
            reply: AgentReplyNode(reply),
        })
    }

    /// Approves or refuses a tool call a reply waits on (its tool requires
    /// approval; `agent_reply.approval_requested` announced it). Those who
    /// may cancel the reply may decide. Approved, the call is made
    /// (`agent_reply.tool_call.started`); refused, it fails
    /// (`agent_reply.tool_call.failed`) and the model is told so; either
    /// way the reply goes on at once. NOT_FOUND for a call the reply does
    /// not have; CONFLICT once the call was decided or expired, or the
    /// reply ended.
    async fn decide_tool_call(
        &self,
        ctx: &Context<'_>,
        input: DecideToolCallInput,
    ) -> GqlResult<DecideToolCallPayload> {
        let services = services(ctx);
        let (scope, reply) = reply_to_control(
            ctx,
            &input.reply_id,
            input.app_id.as_ref(),
            authorize_decide_tool_call,
        )
        .await?;
        let by_user = match viewer(ctx).actor()? {
            Actor::User(user) => Some(user),
            _ => None,
        };
        let decision = tool_calls::Decision {
            approve: input.approve,
            by_user,
        };
        let call = tool_calls::decide(
            services.db(),
            scope,
            &reply,
            &input.call_id,
            decision,
            services.clock().now(),
        )
        .await?;
        // The reply is due: let this process's worker take it now.
        services.wake_worker();
        let reply = agent_replies::find(services.db(), scope, AgentReplyId(reply.id))
            .await?
            .ok_or_else(|| DomainError::not_found("agent reply").with_field("replyId"))?;
        Ok(DecideToolCallPayload {
            reply: AgentReplyNode(reply),
            call: AgentToolCallNode(call),
        })
    }
}

/// A reply the caller may act on, and its app. The secret key and
/// developers (with `appId`) reach any reply of an app they build; anyone
/// else, one of a thread they see, if `authorize` lets them (given their
/// access to the thread and whether their message asked for the reply).
async fn reply_to_control(
    ctx: &Context<'_>,
    reply_id: &ID,
    app_id: Option<&ID>,
    authorize: fn(ThreadAccess, bool) -> DomainResult<()>,
) -> GqlResult<(AppScope, agent_reply::Model)> {
    let services = services(ctx);
    let viewer = viewer(ctx);
    let id = AgentReplyId::parse_field(reply_id, "replyId")?;
    let developer = matches!(
        viewer,
        Viewer::User {
            developer: true,
            ..
        }
    );
    if developer || app_id.is_some() {
        let scope = builder(services, viewer, app_id).await?;
        let reply = agent_replies::find(services.db(), scope, id)
            .await?
            .ok_or_else(|| DomainError::not_found("agent reply").with_field("replyId"))?;
        return Ok((scope, reply));
    }
    let (reply, thread_access) = visible_reply(ctx, id, "replyId").await?;
    let is_requester = match (viewer.actor()?, reply.trigger_message_id) {
        (Actor::User(user), Some(trigger)) => {
            messages::find(services.db(), scope(ctx), MessageId(trigger))
                .await?
                .is_some_and(|m| m.author_user_id == Some(user.uuid()))
        }
        _ => false,
    };
    authorize(thread_access, is_requester)?;
    Ok((scope(ctx), reply))
}

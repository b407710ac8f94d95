//! Routines and their runs: managed by the app's secret key and its
//! developers (`managed_app`: viewers read, developers and up build and
//! run). Users of the app never see routines; they meet what routines do
//! in their threads (the agent's messages, `routine_run.*` events).

use super::matched::Matched;
use super::scalars::Json;
use async_graphql::{Context, Enum, ID, InputObject, Object, OneofObject, SimpleObject, Union};
use chrono::{DateTime, Utc};
use orbit_domain::entities::{routine, routine_run};
use orbit_domain::ids::{
    AgentId, AgentReplyId, AppId, AppScope, MessageId, RoutineId, RoutineRunId, TeamId, ThreadId,
};
use orbit_domain::policy::AppAction;
use orbit_domain::routines::{
    self as rules, Action, DEFAULT_TIMEOUT_SECS, HttpMethod, RoutineStatus, RunCause, RunStatus,
    Trigger,
};
use orbit_domain::{DomainError, validation};
use orbit_persistence::routines::{NewRoutine, RoutineChanges};
use orbit_persistence::{agents, routine_runs, routines, teams, threads};

use super::agents::AgentNode;
use super::pagination::{Conn, CursorList, OrAll};
use super::{GqlResult, services};
use crate::Services;
use crate::application::app_vars::Vars;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "RoutineStatus")]
pub enum RoutineStatusValue {
    /// Made, not yet activated: it does not fire (`runRoutine` still runs it).
    Draft,
    /// Fires on its trigger.
    Active,
    /// Fires nothing until activated again.
    Paused,
    /// A `once` routine after its run.
    Completed,
}

impl From<RoutineStatus> for RoutineStatusValue {
    fn from(status: RoutineStatus) -> Self {
        match status {
            RoutineStatus::Draft => Self::Draft,
            RoutineStatus::Active => Self::Active,
            RoutineStatus::Paused => Self::Paused,
            RoutineStatus::Completed => Self::Completed,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "RoutineRunStatus")]
pub enum RoutineRunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl From<RunStatus> for RoutineRunStatus {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Queued => Self::Queued,
            RunStatus::Running => Self::Running,
            RunStatus::Succeeded => Self::Succeeded,
            RunStatus::Failed => Self::Failed,
        }
    }
}

impl RoutineRunStatus {
    /// From the stored text (an event's payload); unknown text reads as failed.
    pub fn of(text: &str) -> Self {
        text.parse::<RunStatus>().map_or(Self::Failed, Self::from)
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "RoutineRunCause")]
pub enum RoutineRunCause {
    /// Its schedule (cron, interval, once) came.
    Schedule,
    /// `runRoutine`.
    Manual,
    /// An event matched its trigger.
    Event,
}

impl RoutineRunCause {
    pub fn of(text: &str) -> Self {
        match text.parse::<RunCause>() {
            Ok(RunCause::Manual) => Self::Manual,
            Ok(RunCause::Event) => Self::Event,
            _ => Self::Schedule,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "HttpMethod")]
pub enum HttpMethodValue {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl From<HttpMethodValue> for HttpMethod {
    fn from(method: HttpMethodValue) -> Self {
        match method {
            HttpMethodValue::Get => HttpMethod::Get,
            HttpMethodValue::Post => HttpMethod::Post,
            HttpMethodValue::Put => HttpMethod::Put,
            HttpMethodValue::Patch => HttpMethod::Patch,
            HttpMethodValue::Delete => HttpMethod::Delete,
        }
    }
}

impl From<HttpMethod> for HttpMethodValue {
    fn from(method: HttpMethod) -> Self {
        match method {
            HttpMethod::Get => HttpMethodValue::Get,
            HttpMethod::Post => HttpMethodValue::Post,
            HttpMethod::Put => HttpMethodValue::Put,
            HttpMethod::Patch => HttpMethodValue::Patch,
            HttpMethod::Delete => HttpMethodValue::Delete,
        }
    }
}

/// Five-field cron (`*/15 9-17 * * MON-FRI`, `@daily`) in an IANA time
/// zone, with Vixie cron's daylight-saving rules.
#[derive(SimpleObject)]
pub struct CronTrigger {
    expression: String,
    timezone: String,
}

/// Every `seconds`, counted from the routine's activation.
#[derive(SimpleObject)]
pub struct IntervalTrigger {
    seconds: i32,
}

/// Once, at `at`; the routine is COMPLETED after its run.
#[derive(SimpleObject)]
pub struct OnceTrigger {
    at: DateTime<Utc>,
}

/// Each committed event of `type`, narrowed to a team or a thread when given.
#[derive(SimpleObject)]
pub struct EventTrigger {
    #[graphql(name = "type")]
    event_type: String,
    team_id: Option<ID>,
    thread_id: Option<ID>,
}

#[derive(Union)]
#[graphql(name = "RoutineTrigger")]
pub enum RoutineTrigger {
    Cron(CronTrigger),
    Interval(IntervalTrigger),
    Once(OnceTrigger),
    Event(EventTrigger),
}

impl From<Trigger> for RoutineTrigger {
    fn from(trigger: Trigger) -> Self {
        match trigger {
            Trigger::Cron {
                expression,
                timezone,
            } => Self::Cron(CronTrigger {
                expression,
                timezone,
            }),
            Trigger::Interval { seconds } => Self::Interval(IntervalTrigger {
                seconds: i32::try_from(seconds).unwrap_or(i32::MAX),
            }),
            Trigger::Once { at } => Self::Once(OnceTrigger { at }),
            Trigger::Event {
                event_type,
                team_id,
                thread_id,
            } => Self::Event(EventTrigger {
                event_type,
                team_id: team_id.map(|t| ID(t.to_string())),
                thread_id: thread_id.map(|t| ID(t.to_string())),
            }),
        }
    }
}

/// The agent answers `prompt` into the thread.
#[derive(SimpleObject)]
pub struct PromptAgentAction {
    thread_id: ID,
    prompt: String,
}

/// `content` is posted into the thread as the agent's message.
#[derive(SimpleObject)]
pub struct PostMessageAction {
    thread_id: ID,
    content: String,
}

/// An HTTP request to `url`; with no `body`, a JSON description of the run
/// is sent (GET sends none).
#[derive(SimpleObject)]
pub struct CallUrlAction {
    url: String,
    method: HttpMethodValue,
    body: Option<String>,
}

#[derive(Union)]
#[graphql(name = "RoutineAction")]
pub enum RoutineAction {
    PromptAgent(PromptAgentAction),
    PostMessage(PostMessageAction),
    CallUrl(CallUrlAction),
}

impl From<Action> for RoutineAction {
    fn from(action: Action) -> Self {
        match action {
            Action::PromptAgent { thread_id, prompt } => Self::PromptAgent(PromptAgentAction {
                thread_id: ID(thread_id.to_string()),
                prompt,
            }),
            Action::PostMessage { thread_id, content } => Self::PostMessage(PostMessageAction {
                thread_id: ID(thread_id.to_string()),
                content,
            }),
            Action::CallUrl { url, method, body } => Self::CallUrl(CallUrlAction {
                url,
                method: method.into(),
                body,
            }),
        }
    }
}

pub struct RoutineNode(pub routine::Model);

impl RoutineNode {
    fn scope(&self) -> AppScope {
        AppScope::new(AppId(self.0.app_id))
    }
}

#[Object(name = "Routine")]
impl RoutineNode {
    async fn id(&self) -> ID {
        ID(RoutineId(self.0.id).to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn status(&self) -> GqlResult<RoutineStatusValue> {
        Ok(routines::status_of(&self.0)?.into())
    }
    async fn agent_id(&self) -> ID {
        ID(AgentId(self.0.agent_id).to_string())
    }
    /// The agent the routine belongs to (it acts as the agent).
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> {
        Ok(
            agents::find(services(ctx).db(), self.scope(), AgentId(self.0.agent_id))
                .await?
                .map(|model| AgentNode { model, full: true }),
        )
    }
    async fn trigger(&self) -> GqlResult<Matched<RoutineTrigger>> {
        Ok(Matched(routines::trigger_of(&self.0)?.into()))
    }
    async fn action(&self) -> GqlResult<Matched<RoutineAction>> {
        Ok(Matched(routines::action_of(&self.0)?.into()))
    }
    /// The longest a run may take.
    async fn timeout_seconds(&self) -> i32 {
        self.0.timeout_secs
    }
    /// When it fires next: null unless it is ACTIVE with a time trigger.
    async fn next_run_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_run_at
    }
    /// Its runs, newest first.
    async fn runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Conn<RoutineRunNode>> {
        let routine = RoutineId(self.0.id);
        let list = CursorList::new("routineRuns", routine);
        let page = routine_runs::list_for_routine(
            services(ctx).db(),
            self.scope(),
            routine,
            list.forward_args(first, after)?,
        )
        .await?;
        Ok(list.connection(page, |r| r.id, RoutineRunNode))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One run of a routine, from queued to its end.
pub struct RoutineRunNode(pub routine_run::Model);

#[Object(name = "RoutineRun")]
impl RoutineRunNode {
    async fn id(&self) -> ID {
        ID(RoutineRunId(self.0.id).to_string())
    }
    async fn routine_id(&self) -> ID {
        ID(RoutineId(self.0.routine_id).to_string())
    }
    async fn status(&self) -> RoutineRunStatus {
        RoutineRunStatus::of(&self.0.status)
    }
    async fn cause(&self) -> RoutineRunCause {
        RoutineRunCause::of(&self.0.cause)
    }
    /// The tick a scheduled run is for (after downtime, the first tick it
    /// stands for).
    async fn scheduled_for(&self) -> Option<DateTime<Utc>> {
        self.0.scheduled_for
    }
    /// Claims so far: a run taken over after its process stopped counts again.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// What it produced: the agent's answer, the message posted, or the
    /// start of the response body (4,096 characters at most).
    async fn output(&self) -> Option<&str> {
        self.0.output.as_deref()
    }
    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The status code a `callUrl` run got.
    async fn http_status(&self) -> Option<i32> {
        self.0.http_status
    }
    /// The message it posted (or the agent's answer).
    async fn message_id(&self) -> Option<ID> {
        self.0.message_id.map(|m| ID(MessageId(m).to_string()))
    }
    /// The agent's reply a `promptAgent` run asked for.
    async fn reply_id(&self) -> Option<ID> {
        self.0.reply_id.map(|r| ID(AgentReplyId(r).to_string()))
    }
    /// The event that started it: `{"type", "data"}`, as webhooks carry it.
    async fn event(&self) -> Option<Json> {
        self.0.event.clone().map(Json)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(InputObject)]
pub struct CronTriggerInput {
    /// Five fields (minute hour day-of-month month day-of-week) or a
    /// shorthand (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`).
    expression: String,
    /// An IANA zone (`Europe/Paris`). Default `UTC`.
    timezone: Option<String>,
}

#[derive(InputObject)]
pub struct IntervalTriggerInput {
    /// 60 (a minute) to 31,622,400 (a year and a day).
    seconds: i32,
}

#[derive(InputObject)]
pub struct OnceTriggerInput {
    /// In the future.
    at: DateTime<Utc>,
}

#[derive(InputObject)]
pub struct EventTriggerInput {
    /// `message.created`, `message.edited`, `message.deleted`,
    /// `thread.created`, `thread.updated`, `thread.deleted`,
    /// `participant.added`, `participant.removed`, `member.joined`,
    /// `member.left` or `member.role_changed`.
    #[graphql(name = "type")]
    event_type: String,
    /// Only events of this team (a thread's events are its team's).
    team_id: Option<ID>,
    /// Only events of this thread.
    thread_id: Option<ID>,
}

/// Exactly one of these.
#[derive(OneofObject)]
pub enum RoutineTriggerInput {
    Cron(CronTriggerInput),
    Interval(IntervalTriggerInput),
    Once(OnceTriggerInput),
    Event(EventTriggerInput),
}

#[derive(InputObject)]
pub struct PromptAgentInput {
    thread_id: ID,
    prompt: String,
}

#[derive(InputObject)]
pub struct PostMessageInput {
    thread_id: ID,
    content: String,
}

#[derive(InputObject)]
pub struct CallUrlInput {
    /// Public addresses only, unless the server sets ORBIT_WEBHOOK_ALLOW_PRIVATE.
    url: String,
    /// Default POST.
    method: Option<HttpMethodValue>,
    /// Sent as given (JSON as `application/json`, else text). Without it, a
    /// JSON description of the run; GET sends no body.
    body: Option<String>,
}

/// Exactly one of these.
#[derive(OneofObject)]
pub enum RoutineActionInput {
    PromptAgent(PromptAgentInput),
    PostMessage(PostMessageInput),
    CallUrl(CallUrlInput),
}

#[derive(InputObject)]
pub struct CreateRoutineInput {
    /// The app: required for developers, may be omitted with the secret key.
    app_id: Option<ID>,
    /// The agent the routine belongs to and acts as.
    agent_id: ID,
    name: String,
    trigger: RoutineTriggerInput,
    action: RoutineActionInput,
    /// The longest a run may take, 1 to 3,600. Default 300.
    timeout_seconds: Option<i32>,
}

#[derive(SimpleObject)]
pub struct CreateRoutinePayload {
    routine: RoutineNode,
}

#[derive(InputObject)]
pub struct UpdateRoutineInput {
    app_id: Option<ID>,
    id: ID,
    name: Option<String>,
    /// Replaces the trigger; an active routine is scheduled again from now.
    trigger: Option<RoutineTriggerInput>,
    action: Option<RoutineActionInput>,
    timeout_seconds: Option<i32>,
}

#[derive(SimpleObject)]
pub struct UpdateRoutinePayload {
    routine: RoutineNode,
}

#[derive(InputObject)]
pub struct RoutineIdInput {
    app_id: Option<ID>,
    id: ID,
}

#[derive(SimpleObject)]
pub struct ActivateRoutinePayload {
    routine: RoutineNode,
}

#[derive(SimpleObject)]
pub struct PauseRoutinePayload {
    routine: RoutineNode,
}

#[derive(SimpleObject)]
pub struct DeleteRoutinePayload {
    deleted_routine_id: ID,
}

#[derive(InputObject)]
pub struct RunRoutineInput {
    app_id: Option<ID>,
    id: ID,
    /// A retry with the same key returns the first run. Keys are unique in
    /// the app: one used to run another routine is CONFLICT.
    idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct RunRoutinePayload {
    run: RoutineRunNode,
}

async fn existing(services: &Services, scope: AppScope, id: &ID) -> GqlResult<routine::Model> {
    let id = RoutineId::parse_field(id, "id")?;
    routines::find(services.db(), scope, id)
        .await?
        .ok_or_else(|| DomainError::not_found("routine").with_field("id"))
}

/// A thread of the app (another app's answers NOT_FOUND, as a missing one).
async fn app_thread(
    services: &Services,
    scope: AppScope,
    id: &ID,
    field: &str,
) -> GqlResult<ThreadId> {
    let thread = ThreadId::parse_field(id, field)?;
    threads::find(services.db(), scope, thread)
        .await?
        .ok_or_else(|| DomainError::not_found("thread").with_field(field))?;
    Ok(thread)
}

async fn trigger_from(
    services: &Services,
    scope: AppScope,
    input: RoutineTriggerInput,
) -> GqlResult<Trigger> {
    let now = services.clock().now();
    match input {
        RoutineTriggerInput::Cron(cron) => {
            rules::cron_trigger(&cron.expression, cron.timezone.as_deref(), now)
        }
        RoutineTriggerInput::Interval(interval) => {
            rules::interval_trigger(i64::from(interval.seconds))
        }
        RoutineTriggerInput::Once(once) => rules::once_trigger(once.at, now),
        RoutineTriggerInput::Event(event) => {
            let team = match &event.team_id {
                Some(id) => {
                    let field = "trigger.event.teamId";
                    let team = TeamId::parse_field(id, field)?;
                    teams::find(services.db(), scope, team)
                        .await?
                        .ok_or_else(|| DomainError::not_found("team").with_field(field))?;
                    Some(team)
                }
                None => None,
            };
            let thread = match &event.thread_id {
                Some(id) => Some(app_thread(services, scope, id, "trigger.event.threadId").await?),
                None => None,
            };
            rules::event_trigger(&event.event_type, team, thread)
        }
    }
}

async fn action_from(
    services: &Services,
    scope: AppScope,
    input: RoutineActionInput,
) -> GqlResult<Action> {
    let vars = Vars::of(services, scope).await?;
    match input {
        RoutineActionInput::PromptAgent(prompt) => Ok(Action::PromptAgent {
            thread_id: app_thread(
                services,
                scope,
                &prompt.thread_id,
                "action.promptAgent.threadId",
            )
            .await?,
            prompt: {
                vars.check("action.promptAgent.prompt", &prompt.prompt)?;
                rules::prompt("action.promptAgent.prompt", &prompt.prompt)?
            },
        }),
        RoutineActionInput::PostMessage(post) => Ok(Action::PostMessage {
            thread_id: app_thread(
                services,
                scope,
                &post.thread_id,
                "action.postMessage.threadId",
            )
            .await?,
            content: {
                vars.check("action.postMessage.content", &post.content)?;
                validation::message_content("action.postMessage.content", &post.content)?
            },
        }),
        RoutineActionInput::CallUrl(call) => {
            let field = "action.callUrl.url";
            vars.check(field, &call.url)?;
            // Checked with the variables as they are now; kept as written.
            let written = call.url.trim().to_owned();
            let url = validation::http_url(field, &vars.put_in(&call.url))?;
            let parsed = url::Url::parse(&url)
                .map_err(|_| DomainError::bad_input(field, "must be an http(s) URL"))?;
            services.outbound().check(&parsed).map_err(|refused| {
                DomainError::bad_input(
                    field,
                    format!("{refused}: the server calls public addresses only (ORBIT_WEBHOOK_ALLOW_PRIVATE allows others)"),
                )
            })?;
            let method: HttpMethod = call.method.unwrap_or(HttpMethodValue::Post).into();
            if let Some(body) = &call.body {
                vars.check("action.callUrl.body", body)?;
            }
            let body = call
                .body
                .as_deref()
                .map(|body| rules::body("action.callUrl.body", body))
                .transpose()?;
            if method == HttpMethod::Get && body.is_some() {
                return Err(DomainError::bad_input(
                    "action.callUrl.body",
                    "a GET request carries no body",
                ));
            }
            let url = if orbit_domain::app_vars::referenced(&written).is_empty() {
                url
            } else {
                written
            };
            Ok(Action::CallUrl { url, method, body })
        }
    }
}

fn timeout(value: Option<i32>) -> GqlResult<Option<i32>> {
    value
        .map(|secs| rules::timeout_secs("timeoutSeconds", secs))
        .transpose()
}

#[derive(Default)]
pub struct RoutineQuery;

#[Object]
impl RoutineQuery {
    /// A routine of the app: for its secret key and developers (`appId`).
    async fn routine(
        &self,
        ctx: &Context<'_>,
        id: ID,
        app_id: Option<ID>,
    ) -> GqlResult<Option<RoutineNode>> {
        let scope = super::managed_scope(ctx, app_id.as_ref(), AppAction::View).await?;
        Ok(Some(RoutineNode(
            existing(services(ctx), scope, &id).await?,
        )))
    }

    /// The app's routines (or one agent's), oldest first: for its secret
    /// key and developers (`appId`).
    async fn routines(
        &self,
        ctx: &Context<'_>,
        agent_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        app_id: Option<ID>,
    ) -> GqlResult<Conn<RoutineNode>> {
        let scope = super::managed_scope(ctx, app_id.as_ref(), AppAction::View).await?;
        let services = services(ctx);
        let agent = match &agent_id {
            Some(id) => {
                let agent = AgentId::parse_field(id, "agentId")?;
                agents::find(services.db(), scope, agent)
                    .await?
                    .ok_or_else(|| DomainError::not_found("agent").with_field("agentId"))?;
                Some(agent)
            }
            None => None,
        };
        let list = CursorList::new(
            "routines",
            format_args!("{} {}", scope.app_id(), OrAll(agent)),
        );
        let page = routines::list(
            services.db(),
            scope,
            agent,
            list.forward_args(first, after)?,
        )
        .await?;
        Ok(list.connection(page, |r| r.id, RoutineNode))
    }

    /// One run of a routine of the app.
    async fn routine_run(
        &self,
        ctx: &Context<'_>,
        id: ID,
        app_id: Option<ID>,
    ) -> GqlResult<Option<RoutineRunNode>> {
        let scope = super::managed_scope(ctx, app_id.as_ref(), AppAction::View).await?;
        let id = RoutineRunId::parse_field(&id, "id")?;
        let run = routine_runs::find(services(ctx).db(), scope, id)
            .await?
            .ok_or_else(|| DomainError::not_found("routine run").with_field("id"))?;
        Ok(Some(RoutineRunNode(run)))
    }
}

#[derive(Default)]
pub struct RoutineMutation;

#[Object]
impl RoutineMutation {
    /// Creates a routine of an agent, as a DRAFT: activate it to make it fire.
    async fn create_routine(
        &self,
        ctx: &Context<'_>,
        input: CreateRoutineInput,
    ) -> GqlResult<CreateRoutinePayload> {
        let services = services(ctx);
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let agent = AgentId::parse_field(&input.agent_id, "agentId")?;
        agents::find(services.db(), scope, agent)
            .await?
            .ok_or_else(|| DomainError::not_found("agent").with_field("agentId"))?;
        let new = NewRoutine {
            agent,
            name: validation::text_line("name", &input.name, validation::MAX_NAME_CHARS)?,
            trigger: trigger_from(services, scope, input.trigger).await?,
            action: action_from(services, scope, input.action).await?,
            timeout_secs: timeout(input.timeout_seconds)?.unwrap_or(DEFAULT_TIMEOUT_SECS),
        };
        let created = routines::create(services.db(), scope, services.clock().now(), new).await?;
        Ok(CreateRoutinePayload {
            routine: RoutineNode(created),
        })
    }

    /// Changes a routine; fields left out keep their values.
    async fn update_routine(
        &self,
        ctx: &Context<'_>,
        input: UpdateRoutineInput,
    ) -> GqlResult<UpdateRoutinePayload> {
        let services = services(ctx);
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let found = existing(services, scope, &input.id).await?;
        let changes = RoutineChanges {
            name: input
                .name
                .as_deref()
                .map(|name| validation::text_line("name", name, validation::MAX_NAME_CHARS))
                .transpose()?,
            trigger: match input.trigger {
                Some(trigger) => Some(trigger_from(services, scope, trigger).await?),
                None => None,
            },
            action: match input.action {
                Some(action) => Some(action_from(services, scope, action).await?),
                None => None,
            },
            timeout_secs: timeout(input.timeout_seconds)?,
        };
        let updated =
            routines::update(services.db(), found, services.clock().now(), changes).await?;
        Ok(UpdateRoutinePayload {
            routine: RoutineNode(updated),
        })
    }

    /// Makes a routine fire: from its trigger's first tick after now.
    /// CONFLICT when the trigger will not fire again (a `once` in the past).
    async fn activate_routine(
        &self,
        ctx: &Context<'_>,
        input: RoutineIdInput,
    ) -> GqlResult<ActivateRoutinePayload> {
        let services = services(ctx);
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let found = existing(services, scope, &input.id).await?;
        let routine = routines::activate(services.db(), found, services.clock().now()).await?;
        Ok(ActivateRoutinePayload {
            routine: RoutineNode(routine),
        })
    }

    /// Stops an active routine from firing; a run in progress finishes.
    async fn pause_routine(
        &self,
        ctx: &Context<'_>,
        input: RoutineIdInput,
    ) -> GqlResult<PauseRoutinePayload> {
        let services = services(ctx);
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let found = existing(services, scope, &input.id).await?;
        let routine = routines::pause(services.db(), found, services.clock().now()).await?;
        Ok(PauseRoutinePayload {
            routine: RoutineNode(routine),
        })
    }

    /// Deletes a routine and its runs; queued runs never happen.
    async fn delete_routine(
        &self,
        ctx: &Context<'_>,
        input: RoutineIdInput,
    ) -> GqlResult<DeleteRoutinePayload> {
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let id = RoutineId::parse_field(&input.id, "id")?;
        routines::delete(services(ctx).db(), scope, id).await?;
        Ok(DeleteRoutinePayload {
            deleted_routine_id: input.id,
        })
    }

    /// Runs a routine now, whatever its status. With `idempotencyKey`, a
    /// retry returns the first run.
    async fn run_routine(
        &self,
        ctx: &Context<'_>,
        input: RunRoutineInput,
    ) -> GqlResult<RunRoutinePayload> {
        let services = services(ctx);
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let found = existing(services, scope, &input.id).await?;
        let key = input
            .idempotency_key
            .as_deref()
            .map(|key| validation::idempotency_key("idempotencyKey", key))
            .transpose()?;
        let run = routine_runs::request(services.db(), scope, &found, key, services.clock().now())
            .await?;
        services.wake_worker();
        Ok(RunRoutinePayload {
            run: RoutineRunNode(run),
        })
    }
}

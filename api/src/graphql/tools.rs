//! Tools an app's agents may call (`application::tools` does the work).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_domain::entities::{agent_tool_call, tool};
use orbit_domain::ids::ToolId;
use orbit_domain::routines::HttpMethod;
use orbit_domain::tools::ToolKind;
use orbit_persistence::tool_calls::CallStatus;

use super::mcp_servers::McpServerNode;
use super::pagination::{Conn, CursorList};
use super::routines::HttpMethodValue;
use super::scalars::Json;
use super::{GqlResult, services, viewer};
use crate::application::mcp_servers;
use crate::application::tools::{
    self, CreateTool, HeaderInput, HttpInput, ShownHeader, UpdateTool,
};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ToolKind")]
pub enum ToolKindValue {
    /// Called over HTTP: the model's arguments as the JSON body (as query
    /// parameters for GET).
    Http,
    /// A tool one of the app's MCP servers lists, called on that server.
    Mcp,
}

/// A tool an app's agents may call.
pub struct ToolNode(pub tool::Model);

#[Object(name = "Tool")]
impl ToolNode {
    async fn id(&self) -> ID {
        ID(ToolId(self.0.id).to_string())
    }
    /// What the model calls it by: unique in the app.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What the tool does, as the model reads it.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The JSON Schema of the arguments.
    async fn input_schema(&self) -> Json {
        Json(self.0.input_schema.clone())
    }
    async fn kind(&self) -> ToolKindValue {
        match self.0.kind.parse::<ToolKind>() {
            Ok(ToolKind::Mcp) => ToolKindValue::Mcp,
            Ok(ToolKind::Http) | Err(_) => ToolKindValue::Http,
        }
    }
    /// For a tool of an MCP server: the server (its name, description and
    /// schema are as the server lists them).
    async fn mcp_server(&self, ctx: &Context<'_>) -> GqlResult<Option<McpServerNode>> {
        Ok(mcp_servers::of_tool(services(ctx), &self.0)
            .await?
            .map(McpServerNode))
    }
    /// For a tool of an MCP server: the server's own name for it.
    async fn mcp_tool_name(&self) -> Option<&str> {
        self.0.mcp_tool_name.as_deref()
    }
    /// How an HTTP tool is called.
    async fn http(&self) -> GqlResult<Option<ToolHttp>> {
        let (Some(url), Some(method)) = (&self.0.http_url, &self.0.http_method) else {
            return Ok(None);
        };
        let method: HttpMethod = method.parse()?;
        let headers = tools::shown_headers(&self.0)?
            .into_iter()
            .map(ToolHeader::from)
            .collect();
        Ok(Some(ToolHttp {
            url: url.clone(),
            method: method.into(),
            headers,
        }))
    }
    /// Each call waits for a person to approve it (`decideToolCall`)
    /// before it is made; the reply pauses meanwhile.
    async fn requires_approval(&self) -> bool {
        self.0.requires_approval
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// How an HTTP tool is called.
#[derive(SimpleObject)]
pub struct ToolHttp {
    url: String,
    method: HttpMethodValue,
    headers: Vec<ToolHeader>,
}

/// A header sent with every call of the tool.
#[derive(SimpleObject)]
pub struct ToolHeader {
    name: String,
    /// Null when the value is secret: it is stored encrypted and never returned.
    value: Option<String>,
    secret: bool,
}

impl From<ShownHeader> for ToolHeader {
    fn from(header: ShownHeader) -> Self {
        ToolHeader {
            name: header.name,
            value: header.value,
            secret: header.secret,
        }
    }
}

#[derive(InputObject)]
pub struct ToolHeaderInput {
    name: String,
    /// Required, except for a secret header on update: omitted, the value
    /// saved before is kept.
    value: Option<String>,
    /// Stored encrypted and never returned (an API key, a token).
    #[graphql(default)]
    secret: bool,
}

#[derive(InputObject)]
pub struct ToolHttpInput {
    /// Where the tool is called. Public addresses only, unless the server
    /// sets ORBIT_WEBHOOK_ALLOW_PRIVATE.
    url: String,
    #[graphql(default_with = "HttpMethodValue::Post")]
    method: HttpMethodValue,
    #[graphql(default)]
    headers: Vec<ToolHeaderInput>,
}

impl From<ToolHttpInput> for HttpInput {
    fn from(input: ToolHttpInput) -> Self {
        HttpInput {
            url: input.url,
            method: input.method.into(),
            headers: input.headers.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<ToolHeaderInput> for HeaderInput {
    fn from(header: ToolHeaderInput) -> Self {
        HeaderInput {
            name: header.name,
            value: header.value,
            secret: header.secret,
        }
    }
}

#[derive(InputObject)]
pub struct CreateToolInput {
    /// The app: required for developers, may be omitted with the secret key.
    app_id: Option<ID>,
    /// 1 to 64 of `A-Z a-z 0-9 _ -`: models call tools by name.
    name: String,
    description: String,
    /// A JSON Schema of an object: the arguments.
    input_schema: Json,
    http: ToolHttpInput,
    /// Each call waits for a person's approval (`decideToolCall`) before
    /// it is made. Default false.
    #[graphql(default)]
    requires_approval: bool,
}

#[derive(SimpleObject)]
pub struct CreateToolPayload {
    tool: ToolNode,
}

#[derive(InputObject)]
pub struct UpdateToolInput {
    app_id: Option<ID>,
    id: ID,
    name: Option<String>,
    description: Option<String>,
    input_schema: Option<Json>,
    /// Replaces how the tool is called, headers included.
    http: Option<ToolHttpInput>,
    requires_approval: Option<bool>,
}

#[derive(SimpleObject)]
pub struct UpdateToolPayload {
    tool: ToolNode,
}

#[derive(InputObject)]
pub struct DeleteToolInput {
    app_id: Option<ID>,
    id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteToolPayload {
    deleted_tool_id: ID,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AgentToolCallStatus {
    /// Its tool requires approval: it waits for `decideToolCall` until
    /// `approvalExpiresAt`, and is not made until approved.
    AwaitingApproval,
    /// Called, not yet answered.
    Running,
    Completed,
    /// The tool failed, timed out, answered too much, or the model named a
    /// tool the agent does not have or sent arguments that do not fit.
    Failed,
}

/// One call of a tool by an agent's reply.
pub struct AgentToolCallNode(pub agent_tool_call::Model);

#[Object(name = "AgentToolCall")]
impl AgentToolCallNode {
    /// The model's id for the call.
    async fn call_id(&self) -> &str {
        &self.0.call_id
    }
    /// The model turn that asked for it, from 0.
    async fn step(&self) -> i32 {
        self.0.step
    }
    /// The name the model called; the tool may have been deleted since, or
    /// never have been the agent's.
    async fn tool_name(&self) -> &str {
        &self.0.tool_name
    }
    async fn tool_id(&self) -> Option<ID> {
        self.0.tool_id.map(|id| ID(ToolId(id).to_string()))
    }
    /// As the model sent them (a string when they were not JSON).
    async fn arguments(&self) -> Json {
        Json(self.0.arguments.clone())
    }
    async fn status(&self) -> GqlResult<AgentToolCallStatus> {
        Ok(match CallStatus::parse(&self.0.status)? {
            CallStatus::AwaitingApproval => AgentToolCallStatus::AwaitingApproval,
            CallStatus::Running => AgentToolCallStatus::Running,
            CallStatus::Completed => AgentToolCallStatus::Completed,
            CallStatus::Failed => AgentToolCallStatus::Failed,
        })
    }
    /// What the tool answered (JSON, or a string when it was not JSON).
    async fn result(&self) -> Option<Json> {
        self.0.result.clone().map(Json)
    }
    /// Why it failed, as the model was told.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// When it was made (for an approved call, when it was approved).
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    /// For a tool that requires approval: when an undecided call counts as
    /// refused.
    async fn approval_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.approval_expires_at
    }
    /// When someone approved or refused it.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
    /// The user who decided; null when the app's secret key did, or no one.
    async fn decided_by_user_id(&self) -> Option<ID> {
        self.0
            .decided_by_user_id
            .map(|id| ID(orbit_domain::ids::UserId(id).to_string()))
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// From start to end, in milliseconds, once it ended.
    async fn duration_ms(&self) -> Option<i64> {
        self.0
            .finished_at
            .map(|end| (end - self.0.started_at).num_milliseconds())
    }
}

#[derive(Default)]
pub struct ToolQuery;

#[Object]
impl ToolQuery {
    /// The app's tools, oldest first: for its secret key and developers.
    async fn tools(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        app_id: Option<ID>,
    ) -> GqlResult<Conn<ToolNode>> {
        let services = services(ctx);
        let scope =
            tools::readable_app(services, viewer(ctx), app_id.as_deref().map(String::as_str))
                .await?;
        let list = CursorList::new("tools", scope.app_id());
        let page = tools::list(services, scope, list.forward_args(first, after)?).await?;
        Ok(list.connection(page, |tool| tool.id, ToolNode))
    }

    /// A tool of the app; null (NOT_FOUND) when there is none by this id.
    async fn tool(
        &self,
        ctx: &Context<'_>,
        id: ID,
        app_id: Option<ID>,
    ) -> GqlResult<Option<ToolNode>> {
        let tool = tools::find(
            services(ctx),
            viewer(ctx),
            app_id.as_deref().map(String::as_str),
            &id,
        )
        .await?;
        Ok(Some(ToolNode(tool)))
    }
}

#[derive(Default)]
pub struct ToolMutation;

#[Object]
impl ToolMutation {
    /// Adds a tool the app's agents may be given (the app's secret key, or a developer).
    async fn create_tool(
        &self,
        ctx: &Context<'_>,
        input: CreateToolInput,
    ) -> GqlResult<CreateToolPayload> {
        let create = CreateTool {
            name: input.name,
            description: input.description,
            input_schema: input.input_schema.0,
            http: input.http.into(),
            requires_approval: input.requires_approval,
        };
        let tool = tools::create(
            services(ctx),
            viewer(ctx),
            input.app_id.as_deref().map(String::as_str),
            create,
        )
        .await?;
        Ok(CreateToolPayload {
            tool: ToolNode(tool),
        })
    }

    /// Changes a tool; what is omitted stays.
    async fn update_tool(
        &self,
        ctx: &Context<'_>,
        input: UpdateToolInput,
    ) -> GqlResult<UpdateToolPayload> {
        let update = UpdateTool {
            name: input.name,
            description: input.description,
            input_schema: input.input_schema.map(|Json(schema)| schema),
            http: input.http.map(Into::into),
            requires_approval: input.requires_approval,
        };
        let tool = tools::update(
            services(ctx),
            viewer(ctx),
            input.app_id.as_deref().map(String::as_str),
            &input.id,
            update,
        )
        .await?;
        Ok(UpdateToolPayload {
            tool: ToolNode(tool),
        })
    }

    /// Deletes a tool; agents that had it lose it.
    async fn delete_tool(
        &self,
        ctx: &Context<'_>,
        input: DeleteToolInput,
    ) -> GqlResult<DeleteToolPayload> {
        let id = tools::delete(
            services(ctx),
            viewer(ctx),
            input.app_id.as_deref().map(String::as_str),
            &input.id,
        )
        .await?;
        Ok(DeleteToolPayload {
            deleted_tool_id: ID(id.to_string()),
        })
    }
}

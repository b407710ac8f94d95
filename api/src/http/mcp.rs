//! `/mcp`: Orbit as an MCP server (Streamable HTTP), so outside agents
//! (Claude Desktop, IDEs, other agent runtimes) can list and read an app's
//! threads, post in them, and ask the app's agents and wait for their
//! replies.
//!
//! **Who.** Every request carries the app's secret key or a user's access
//! token (`Authorization: Bearer …` or `x-api-key`), checked like any other
//! request before the MCP layer sees it; anything else is a 401 with
//! `WWW-Authenticate: Bearer`. No credential means no MCP: a publishable
//! key acts for no one, and the console app is not a place to talk in.
//!
//! **Same rules as GraphQL, by construction.** Each tool runs a fixed
//! GraphQL document through the schema with the caller's viewer: the
//! access checks, tenancy (another app's thread answers `NOT_FOUND`), rate
//! limits, validation and error codes are the resolvers' own, and a tool
//! can never do what the caller could not do over `/graphql`. A GraphQL
//! error becomes a tool error (`isError`, with its code and field), which
//! the outside agent reads and can act on.
//!
//! **Stateless.** No MCP session is kept (every POST stands alone, and the
//! answer is plain JSON), so any of many processes behind a load balancer
//! answers any request. The SDK's `Host` check is off: it guards servers
//! that take requests without credentials from DNS rebinding, while every
//! request here must carry a credential a rebinding page does not have.
//!
//! **Waiting for an agent.** `ask_agent` sends the message and waits, up to
//! `waitSeconds` (at most 25, inside the request timeout), for the reply
//! it asked for to end, woken by the thread's events through the broker
//! (and looking again each second). A reply still running is returned as
//! such with its id: `get_agent_reply` waits again.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use orbit_domain::events::Topic;
use orbit_domain::ids::ThreadId;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::HttpState;
use super::client_addr::client_addr;
use super::graphql_handler::credential;
use crate::Services;
use crate::graphql::{OrbitSchema, RequestId, attach_request_data, present_errors};
use crate::limits::ClientAddr;
use crate::viewer::{self, Viewer};

/// The longest `ask_agent` and `get_agent_reply` wait: inside the
/// server's 30-second request timeout.
pub const MAX_WAIT_SECONDS: u64 = 25;
const DEFAULT_WAIT_SECONDS: u64 = 20;
/// How often a wait looks again when no event woke it.
const LOOK_AGAIN: Duration = Duration::from_secs(1);
/// Requests to `/mcp` are tool calls with short arguments.
const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// Who is calling: put on the request by [`authenticate`], read by the tools.
#[derive(Clone, Copy)]
struct Caller {
    viewer: Viewer,
    client_addr: ClientAddr,
}

/// The `/mcp` service, behind [`authenticate`].
pub(super) fn service(state: &HttpState) -> StreamableHttpService<OrbitTools, NeverSessionManager> {
    let tools = OrbitTools {
        services: state.services.clone(),
        schema: state.schema.clone(),
    };
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        .disable_allowed_hosts();
    StreamableHttpService::new(move || Ok(tools.clone()), Default::default(), config)
}

/// Lets a request through to the MCP layer only with the app's secret key
/// or a user's token.
pub(super) async fn authenticate(
    State(state): State<HttpState>,
    mut request: Request,
    next: Next,
) -> Response {
    let refused = |status: StatusCode, message: &str| {
        (
            status,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(json!({ "error": { "message": message } })),
        )
            .into_response()
    };
    let credential = match credential(request.headers()) {
        Ok(Some(credential)) => credential.to_owned(),
        Ok(None) => {
            return refused(
                StatusCode::UNAUTHORIZED,
                "/mcp wants the app's secret key or a user's access token: Authorization: Bearer <key or token>",
            );
        }
        Err(error) => return refused(StatusCode::UNAUTHORIZED, &error.message),
    };
    let viewer = match viewer::resolve(&state.services, Some(&credential)).await {
        Ok(viewer @ (Viewer::Secret { .. } | Viewer::User { .. })) => viewer,
        Ok(_) => {
            return refused(
                StatusCode::UNAUTHORIZED,
                "/mcp takes the app's secret key or a user's access token, not a publishable key",
            );
        }
        Err(error) => {
            let status = match error.code {
                orbit_domain::ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                orbit_domain::ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                orbit_domain::ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            return refused(status, &error.message);
        }
    };
    let (parts, body) = request.into_parts();
    let client_addr = client_addr(&parts, &state);
    request = Request::from_parts(parts, body);
    request.extensions_mut().insert(Caller {
        viewer,
        client_addr,
    });
    next.run(request).await
}

/// The tools `/mcp` offers.
#[derive(Clone)]
pub(super) struct OrbitTools {
    services: Services,
    schema: OrbitSchema,
}

/// Why a tool call failed, as the calling agent reads it.
struct ToolError(String);

impl ToolError {
    fn argument(name: &str, why: &str) -> Self {
        ToolError(format!("BAD_USER_INPUT on {name}: {why}"))
    }
}

type Outcome = Result<Value, ToolError>;

const LIST_THREADS: &str = "query($first: Int, $after: String) { threads(first: $first, after: $after) { edges { node { id title lastMessageAt createdAt team { id name } } } pageInfo { hasNextPage endCursor } } }";
const READ_THREAD: &str = "query($id: ID!, $last: Int, $before: String) { thread(id: $id) { id title messages(last: $last, before: $before) { edges { node { ...message } } pageInfo { hasPreviousPage startCursor } } participants { agent { handle name } } } } fragment message on Message { id content status createdAt author { __typename ... on User { id displayName } ... on Agent { id handle name } } }";
const POST_MESSAGE: &str = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id createdAt agentReplies { id status agent { handle } } } } }";
const REPLY: &str = "query($id: ID!) { agentReply(id: $id) { id status error agent { handle name } thread { id } message { id content } finishedAt } }";
const LIST_AGENTS: &str = "query($first: Int, $after: String) { agents(first: $first, after: $after) { edges { node { id name handle status replyMode } } pageInfo { hasNextPage endCursor } } }";

fn tools() -> Vec<Tool> {
    let tool = |name: &'static str, description: &'static str, schema: Value| {
        let Value::Object(schema) = schema else {
            unreachable!("a tool's schema is written as an object")
        };
        Tool::new(name, description, std::sync::Arc::new(schema))
    };
    vec![
        tool(
            "list_threads",
            "Lists the threads the caller can see, most recent activity first (a page of at most 50; pass `after` to go on).",
            json!({
                "type": "object",
                "properties": {
                    "first": { "type": "integer", "minimum": 1, "maximum": 50 },
                    "after": { "type": "string", "description": "endCursor of the page before" }
                }
            }),
        ),
        tool(
            "read_thread",
            "Reads a thread: its title, who takes part, and its latest messages (at most 100; pass `before` for older ones).",
            json!({
                "type": "object",
                "properties": {
                    "threadId": { "type": "string" },
                    "last": { "type": "integer", "minimum": 1, "maximum": 100 },
                    "before": { "type": "string", "description": "startCursor of the page after" }
                },
                "required": ["threadId"]
            }),
        ),
        tool(
            "post_message",
            "Posts a message in a thread. Agents of the thread that answer such messages start their replies; their ids are returned.",
            json!({
                "type": "object",
                "properties": {
                    "threadId": { "type": "string" },
                    "content": { "type": "string" },
                    "authorId": { "type": "string", "description": "With the app's secret key: the user the message is from" }
                },
                "required": ["threadId", "content"]
            }),
        ),
        tool(
            "ask_agent",
            "Posts a message in a thread and waits for the reply of an agent there (name it with @handle unless it answers every message). Returns the reply's text, or its id and status if it is still running when the wait ends (then call get_agent_reply).",
            json!({
                "type": "object",
                "properties": {
                    "threadId": { "type": "string" },
                    "content": { "type": "string" },
                    "agentHandle": { "type": "string", "description": "Whose reply to wait for, when several agents answer" },
                    "authorId": { "type": "string", "description": "With the app's secret key: the user the message is from" },
                    "waitSeconds": { "type": "integer", "minimum": 0, "maximum": MAX_WAIT_SECONDS }
                },
                "required": ["threadId", "content"]
            }),
        ),
        tool(
            "get_agent_reply",
            "Reads an agent's reply, waiting up to waitSeconds for it to end.",
            json!({
                "type": "object",
                "properties": {
                    "replyId": { "type": "string" },
                    "waitSeconds": { "type": "integer", "minimum": 0, "maximum": MAX_WAIT_SECONDS }
                },
                "required": ["replyId"]
            }),
        ),
        tool(
            "list_agents",
            "Lists the app's agents (with the app's secret key).",
            json!({
                "type": "object",
                "properties": {
                    "first": { "type": "integer", "minimum": 1, "maximum": 50 },
                    "after": { "type": "string" }
                }
            }),
        ),
    ]
}

impl ServerHandler for OrbitTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("orbit", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Orbit: an app's threads of messages and its AI agents. List and read threads, post in them, and ask an agent (by @handle) and wait for its reply.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult {
            tools: tools(),
            ..Default::default()
        })
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .copied()
            .ok_or_else(|| ErrorData::internal_error("the request was not authenticated", None))?;
        let arguments = request.arguments.unwrap_or_default();
        let outcome = match request.name.as_ref() {
            "list_threads" => self.list_threads(caller, &arguments).await,
            "read_thread" => self.read_thread(caller, &arguments).await,
            "post_message" => self.post_message(caller, &arguments).await,
            "ask_agent" => self.ask_agent(caller, &arguments).await,
            "get_agent_reply" => self.get_agent_reply(caller, &arguments).await,
            "list_agents" => self.list_agents(caller, &arguments).await,
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no tool named {other}"),
                    None,
                ));
            }
        };
        Ok(match outcome {
            Ok(value) => CallToolResult::structured(value),
            Err(ToolError(why)) => CallToolResult::error(vec![ContentBlock::text(why)]),
        }
        .into())
    }
}

fn string_arg<'a>(arguments: &'a JsonObject, name: &str) -> Result<&'a str, ToolError> {
    match arguments.get(name) {
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(ToolError::argument(name, "must be a string")),
        None => Err(ToolError::argument(name, "is required")),
    }
}

fn optional_string(arguments: &JsonObject, name: &str) -> Result<Option<String>, ToolError> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ToolError::argument(name, "must be a string")),
    }
}

fn optional_count(arguments: &JsonObject, name: &str, max: u64) -> Result<Option<u64>, ToolError> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(count) if count <= max => Ok(Some(count)),
            _ => Err(ToolError::argument(
                name,
                &format!("must be a whole number from 0 to {max}"),
            )),
        },
    }
}

impl OrbitTools {
    /// Runs one of this module's documents as the caller, as `/graphql`
    /// would; a GraphQL error is the tool's error.
    async fn run(&self, caller: Caller, document: &str, variables: Value) -> Outcome {
        let request_id = RequestId(format!("mcp-{}", uuid::Uuid::now_v7().simple()));
        let request = async_graphql::Request::new(document)
            .variables(async_graphql::Variables::from_json(variables));
        let request =
            attach_request_data(request, &self.services, caller.viewer, request_id.clone())
                .data(caller.client_addr);
        let mut response = self.schema.execute(request).await;
        if response.errors.is_empty() {
            return response
                .data
                .into_json()
                .map_err(|_| ToolError("the answer did not read".to_owned()));
        }
        present_errors(&mut response.errors, &request_id);
        let error = &response.errors[0];
        let extensions = error
            .extensions
            .as_ref()
            .and_then(|extensions| serde_json::to_value(extensions).ok())
            .unwrap_or(Value::Null);
        let code = extensions["code"].as_str().unwrap_or("INTERNAL");
        Err(ToolError(match extensions["details"]["field"].as_str() {
            Some(field) => format!("{code} on {field}: {}", error.message),
            None => format!("{code}: {}", error.message),
        }))
    }

    async fn list_threads(&self, caller: Caller, arguments: &JsonObject) -> Outcome {
        self.page(caller, arguments, LIST_THREADS, "threads").await
    }

    /// A page of the connection `field` that `document` reads with
    /// `first` (at most 50, default 20) and `after`.
    async fn page(
        &self,
        caller: Caller,
        arguments: &JsonObject,
        document: &str,
        field: &str,
    ) -> Outcome {
        let first = optional_count(arguments, "first", 50)?.unwrap_or(20);
        let after = optional_string(arguments, "after")?;
        let data = self
            .run(caller, document, json!({ "first": first, "after": after }))
            .await?;
        let connection = &data[field];
        Ok(json!({
            field: nodes(connection),
            "hasNextPage": connection["pageInfo"]["hasNextPage"],
            "endCursor": connection["pageInfo"]["endCursor"],
        }))
    }

    async fn read_thread(&self, caller: Caller, arguments: &JsonObject) -> Outcome {
        let id = string_arg(arguments, "threadId")?;
        let last = optional_count(arguments, "last", 100)?.unwrap_or(30);
        let before = optional_string(arguments, "before")?;
        let data = self
            .run(
                caller,
                READ_THREAD,
                json!({ "id": id, "last": last, "before": before }),
            )
            .await?;
        let thread = &data["thread"];
        let agents: Vec<Value> = thread["participants"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|participant| {
                        Some(participant.get("agent")?)
                            .filter(|agent| !agent.is_null())
                            .cloned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(json!({
            "id": thread["id"],
            "title": thread["title"],
            "agents": agents,
            "messages": nodes(&thread["messages"]),
            "hasOlder": thread["messages"]["pageInfo"]["hasPreviousPage"],
            "olderBefore": thread["messages"]["pageInfo"]["startCursor"],
        }))
    }

    async fn send(&self, caller: Caller, arguments: &JsonObject) -> Outcome {
        let thread = string_arg(arguments, "threadId")?;
        let content = string_arg(arguments, "content")?;
        let author = optional_string(arguments, "authorId")?;
        let mut input = json!({ "threadId": thread, "content": content });
        if let Some(author) = author {
            input["authorId"] = Value::String(author);
        }
        let data = self
            .run(caller, POST_MESSAGE, json!({ "input": input }))
            .await?;
        Ok(data["sendMessage"]["message"].clone())
    }

    async fn post_message(&self, caller: Caller, arguments: &JsonObject) -> Outcome {
        let message = self.send(caller, arguments).await?;
        Ok(json!({ "message": message }))
    }

    async fn ask_agent(&self, caller: Caller, arguments: &JsonObject) -> Outcome {
        let wait = optional_count(arguments, "waitSeconds", MAX_WAIT_SECONDS)?
            .unwrap_or(DEFAULT_WAIT_SECONDS);
        let handle = optional_string(arguments, "agentHandle")?;
        let thread: ThreadId = string_arg(arguments, "threadId")?
            .parse()
            .map_err(|_| ToolError::argument("threadId", "is not a thread id"))?;
        // Listening before the message is sent: no event of its reply can
        // come before the wait hears it.
        let mut events = self
            .services
            .broker()
            .subscribe(&Topic::Thread(thread).key())
            .await;
        let message = self.send(caller, arguments).await?;
        let replies = message["agentReplies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let reply = replies.iter().find(|reply| match &handle {
            Some(handle) => {
                reply["agent"]["handle"].as_str() == Some(handle.trim_start_matches('@'))
            }
            None => true,
        });
        let Some(reply_id) = reply.and_then(|reply| reply["id"].as_str()) else {
            return Err(ToolError(match handle {
                Some(handle) => format!(
                    "the message was posted (id {}), but @{} does not answer it: is the agent in this thread, active, and named in the message when it answers mentions only?",
                    message["id"].as_str().unwrap_or_default(),
                    handle.trim_start_matches('@')
                ),
                None => format!(
                    "the message was posted (id {}), but no agent of the thread answers it: name one with @handle",
                    message["id"].as_str().unwrap_or_default()
                ),
            }));
        };
        let reply = self
            .wait_for_reply(caller, reply_id, wait, &mut events)
            .await?;
        Ok(json!({ "message": { "id": message["id"] }, "reply": reply }))
    }

    async fn get_agent_reply(&self, caller: Caller, arguments: &JsonObject) -> Outcome {
        let wait = optional_count(arguments, "waitSeconds", MAX_WAIT_SECONDS)?.unwrap_or(0);
        let reply_id = string_arg(arguments, "replyId")?;
        let first = self.run(caller, REPLY, json!({ "id": reply_id })).await?;
        let reply = first["agentReply"].clone();
        if wait == 0 || reply_ended(&reply) {
            return Ok(json!({ "reply": reply }));
        }
        let thread: ThreadId = reply["thread"]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| ToolError("the reply's thread is gone".to_owned()))?;
        let mut events = self
            .services
            .broker()
            .subscribe(&Topic::Thread(thread).key())
            .await;
        let reply = self
            .wait_for_reply(caller, reply_id, wait, &mut events)
            .await?;
        Ok(json!({ "reply": reply }))
    }

    /// The reply once it ended, or as it stands when `wait` seconds pass:
    /// read again whenever the thread has an event, and each second.
    async fn wait_for_reply(
        &self,
        caller: Caller,
        reply_id: &str,
        wait: u64,
        events: &mut orbit_realtime::Subscription,
    ) -> Outcome {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
        loop {
            let data = self.run(caller, REPLY, json!({ "id": reply_id })).await?;
            let reply = data["agentReply"].clone();
            let now = tokio::time::Instant::now();
            if reply_ended(&reply) || now >= deadline {
                return Ok(reply);
            }
            let nap = LOOK_AGAIN.min(deadline - now);
            let _ = tokio::time::timeout(nap, events.recv()).await;
        }
    }

    async fn list_agents(&self, caller: Caller, arguments: &JsonObject) -> Outcome {
        self.page(caller, arguments, LIST_AGENTS, "agents").await
    }
}

fn reply_ended(reply: &Value) -> bool {
    matches!(
        reply["status"].as_str(),
        Some("COMPLETED" | "FAILED" | "CANCELLED")
    )
}

/// The nodes of a connection's edges.
fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .map(|edges| edges.iter().map(|edge| edge["node"].clone()).collect())
        .unwrap_or_default()
}

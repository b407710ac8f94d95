//! A real MCP server on loopback, built with the official SDK's server side
//! and its Streamable HTTP transport, for agents' MCP tools. It lists the
//! tools a test sets, records every call (the arguments, the request's
//! `Authorization` header and Orbit's idempotency key from `_meta`) and
//! answers:
//!
//! - `add` `{a, b}`: `{"sum": a + b}` as JSON text;
//! - `fail`: an error result (`isError`) saying "the disk is full";
//! - `structured`: structured content `{"ok": true}` beside its text;
//! - anything else: a JSON-RPC error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

/// One call the server answered.
#[derive(Debug, Clone)]
pub struct McpCall {
    pub tool: String,
    pub arguments: Value,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
struct Shared {
    tools: Mutex<Vec<Tool>>,
    calls: Mutex<Vec<McpCall>>,
    /// Stopped: every request is answered 503, pooled connections included.
    down: AtomicBool,
}

async fn unless_down(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if shared.down.load(Ordering::SeqCst) {
        return axum::response::IntoResponse::into_response((
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "down for maintenance",
        ));
    }
    next.run(request).await
}

#[derive(Clone)]
struct Handler(Arc<Shared>);

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult {
            tools: self.0.tools.lock().expect("tools").clone(),
            ..Default::default()
        })
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
        let authorization = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.headers.get("authorization"))
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        // The SDK hands a request's `_meta` to the handler in its context.
        let idempotency_key = context
            .meta
            .0
            .0
            .get("orbit/idempotencyKey")
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.0.calls.lock().expect("calls").push(McpCall {
            tool: request.name.to_string(),
            arguments: arguments.clone(),
            authorization,
            idempotency_key,
        });
        let result = match request.name.as_ref() {
            "add" => {
                let number =
                    |name: &str| arguments.get(name).and_then(Value::as_f64).unwrap_or(0.0);
                let sum = number("a") + number("b");
                CallToolResult::success(vec![ContentBlock::text(json!({"sum": sum}).to_string())])
            }
            "fail" => CallToolResult::error(vec![ContentBlock::text("the disk is full")]),
            "structured" => {
                let mut result = CallToolResult::success(vec![ContentBlock::text("ok")]);
                result.structured_content = Some(json!({"ok": true}));
                result
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no tool named {other}"),
                    None,
                ));
            }
        };
        Ok(result.into())
    }
}

/// The server; stopped when dropped (or by [`FakeMcpServer::stop`]).
pub struct FakeMcpServer {
    /// `http://127.0.0.1:<port>/mcp`.
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMcpServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A tool as a server lists it.
pub fn tool(name: &str, description: &str, input_schema: Value) -> Tool {
    let Value::Object(schema) = input_schema else {
        panic!("an input schema is a JSON object");
    };
    Tool::new(name.to_owned(), description.to_owned(), Arc::new(schema))
}

/// `add`, `fail` and `structured`, as listed by default.
pub fn default_tools() -> Vec<Tool> {
    vec![
        tool(
            "add",
            "Adds two numbers",
            json!({
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"]
            }),
        ),
        tool("fail", "Always fails", json!({"type": "object"})),
        tool(
            "structured",
            "Answers with structured content",
            json!({"type": "object"}),
        ),
    ]
}

impl FakeMcpServer {
    /// Listens on a free loopback port, listing [`default_tools`].
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        *shared.tools.lock().expect("tools") = default_tools();
        let handler = Handler(shared.clone());
        let service: StreamableHttpService<Handler, LocalSessionManager> =
            StreamableHttpService::new(
                move || Ok(handler.clone()),
                Default::default(),
                StreamableHttpServerConfig::default(),
            );
        let router = axum::Router::new().nest_service("/mcp", service).layer(
            axum::middleware::from_fn_with_state(shared.clone(), unless_down),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url: format!("http://{address}/mcp"),
            shared,
            server,
        }
    }

    /// What the server lists from now on.
    pub fn set_tools(&self, tools: Vec<Tool>) {
        *self.shared.tools.lock().expect("tools") = tools;
    }

    /// The calls answered so far, oldest first.
    pub fn calls(&self) -> Vec<McpCall> {
        self.shared.calls.lock().expect("calls").clone()
    }

    /// Stops answering: from now on every request fails (503).
    pub fn stop(&self) {
        self.shared.down.store(true, Ordering::SeqCst);
    }

    /// Answers again.
    pub fn restart(&self) {
        self.shared.down.store(false, Ordering::SeqCst);
    }
}

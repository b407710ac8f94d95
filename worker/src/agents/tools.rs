//! Running the tools a model calls. A built-in tool acts on Orbit's own
//! data (`super::builtins`). A tool of an MCP server is called on
//! that server (`crate::mcp`). An HTTP tool gets the model's arguments
//! as its JSON body (as query parameters for GET), its headers (secret
//! values opened here, never logged), and `Idempotency-Key`: the call's
//! row id, the same on every attempt of that call, so a tool that a
//! crashed process may already have called can tell a repeat. Whatever
//! happens ends in a result or in an error the model reads and a developer
//! can act on; nothing here fails the reply itself.

use std::collections::HashMap;

use orbit_domain::SealContext;
use orbit_domain::app_vars::substitute;
use orbit_domain::entities::tool;
use orbit_domain::ids::{AppScope, McpServerId, ToolId};
use orbit_domain::routines::HttpMethod;
use orbit_domain::tools::{HEADER_SEAL_PURPOSE, StoredHeader, ToolKind, check_arguments};
use orbit_persistence::mcp_servers;
use serde_json::Value;
use url::Url;

use super::builtins::{self, Caller};
use crate::WorkerContext;
use crate::mcp::Endpoint;

pub use crate::tool_limits::ToolLimits;

/// How much of a failed answer's body goes into the error.
const MAX_ERROR_DETAIL: usize = 300;

/// Runs `tool` with the arguments the model wrote; `Err` is what to tell
/// the model (and store) instead of a result.
pub async fn call(
    ctx: &WorkerContext,
    scope: AppScope,
    caller: Caller,
    tool: &tool::Model,
    arguments: &Value,
    idempotency_key: &str,
    vars: &HashMap<String, String>,
) -> Result<Value, String> {
    check_arguments(&tool.input_schema, arguments)
        .map_err(|misfit| format!("the arguments do not fit the tool's input schema: {misfit}"))?;
    if let Some(builtin) = builtins::builtin_of(tool) {
        return builtins::call(ctx, scope, caller, builtin, arguments, idempotency_key).await;
    }
    match tool.kind.parse::<ToolKind>() {
        Ok(ToolKind::Http) => http(ctx, scope, tool, arguments, idempotency_key, vars).await,
        Ok(ToolKind::Mcp) => mcp(ctx, scope, tool, arguments, idempotency_key, vars).await,
        Err(_) => Err(format!(
            "tool \"{}\" is of a kind this server cannot call",
            tool.name
        )),
    }
}

async fn http(
    ctx: &WorkerContext,
    scope: AppScope,
    tool: &tool::Model,
    arguments: &Value,
    idempotency_key: &str,
    vars: &HashMap<String, String>,
) -> Result<Value, String> {
    let broken = |what: &str| format!("tool \"{}\" is misconfigured: {what}", tool.name);
    let put_in = |text: &str| {
        substitute(text, |name| vars.get(name).cloned()).map_err(|name| {
            broken(&format!(
                "it refers to {{{{vars.{name}}}}}, which the app no longer has"
            ))
        })
    };
    let url = put_in(tool.http_url.as_deref().ok_or_else(|| broken("no URL"))?)?;
    let mut url = Url::parse(&url).map_err(|_| broken("its URL is not a URL"))?;
    let method: HttpMethod = tool
        .http_method
        .as_deref()
        .unwrap_or("POST")
        .parse()
        .map_err(|_| broken("an unknown method"))?;
    ctx.outbound.check(&url).map_err(|refused| {
        format!(
            "tool \"{}\" cannot be called from here: {refused}",
            tool.name
        )
    })?;
    if method == HttpMethod::Get
        && let Value::Object(fields) = arguments
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in fields {
            match value {
                Value::String(text) => query.append_pair(name, text),
                other => query.append_pair(name, &other.to_string()),
            };
        }
    }
    let client = ctx.outbound.client();
    let mut request = match method {
        HttpMethod::Get => client.get(url),
        HttpMethod::Post => client.post(url),
        HttpMethod::Put => client.put(url),
        HttpMethod::Patch => client.patch(url),
        HttpMethod::Delete => client.delete(url),
    };
    if method != HttpMethod::Get {
        request = request.json(arguments);
    }
    for header in StoredHeader::read_all(tool.http_headers.as_ref())
        .map_err(|_| broken("its headers do not read"))?
    {
        let value = match (&header.value, &header.sealed) {
            (Some(value), _) => value.clone(),
            (None, Some(sealed)) => {
                let context = SealContext::new(
                    scope.app_id(),
                    HEADER_SEAL_PURPOSE,
                    StoredHeader::seal_row(ToolId(tool.id), &header.name),
                );
                ctx.sealer.open(sealed, &context).map_err(|error| {
                    tracing::error!(?error, tool = %ToolId(tool.id), "a tool's secret header does not open");
                    broken("a secret header cannot be read (was ORBIT_SECRETS_KEY changed?): set it again")
                })?
            }
            (None, None) => continue,
        };
        request = request.header(header.name.as_str(), put_in(&value)?);
    }
    request = request
        .header("idempotency-key", idempotency_key)
        .timeout(ctx.tool_limits.timeout);
    let limits = ctx.tool_limits;
    let response = request.send().await.map_err(|error| {
        let why = if error.is_timeout() {
            format!("it did not answer within {} s", limits.timeout.as_secs())
        } else if error.is_connect() {
            "could not connect".to_owned()
        } else {
            "the request failed".to_owned()
        };
        format!("tool \"{}\": {why}", tool.name)
    })?;
    let status = response.status();
    let body = read_capped(response, &tool.name, limits).await?;
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        let detail: String = text.trim().chars().take(MAX_ERROR_DETAIL).collect();
        return Err(format!(
            "tool \"{}\" answered {status}: {detail}",
            tool.name
        ));
    }
    // JSON as it came; anything else as text.
    Ok(serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(text.into_owned())))
}

/// Calls the tool on the MCP server it came from, as the server calls it.
async fn mcp(
    ctx: &WorkerContext,
    scope: AppScope,
    tool: &tool::Model,
    arguments: &Value,
    idempotency_key: &str,
    vars: &HashMap<String, String>,
) -> Result<Value, String> {
    let named = |why: String| format!("tool \"{}\": {why}", tool.name);
    let (Some(server_id), Some(server_tool)) = (tool.mcp_server_id, &tool.mcp_tool_name) else {
        return Err(named("its MCP server is not recorded".to_owned()));
    };
    let server = mcp_servers::find(&ctx.db, scope, McpServerId(server_id))
        .await
        .map_err(|_| named("its MCP server could not be read".to_owned()))?
        .ok_or_else(|| named("its MCP server was deleted".to_owned()))?;
    let endpoint =
        Endpoint::of(&server, ctx.sealer.as_ref(), &ctx.outbound, vars).map_err(|why| {
            named(format!(
                "MCP server \"{}\" is misconfigured: {why}",
                server.name
            ))
        })?;
    crate::mcp::call(
        &ctx.outbound,
        ctx.tool_limits,
        endpoint,
        server_tool,
        arguments,
        idempotency_key,
    )
    .await
    .map_err(|why| named(format!("MCP server \"{}\": {why}", server.name)))
}

/// The body, refused past the limit (read as it arrives, so a tool that
/// sends without end costs no more than that).
async fn read_capped(
    mut response: reqwest::Response,
    name: &str,
    limits: ToolLimits,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => {
                if body.len() + bytes.len() > limits.max_result_bytes {
                    return Err(format!(
                        "tool \"{name}\" answered more than {} bytes (ORBIT_TOOL_RESULT_MAX_BYTES)",
                        limits.max_result_bytes
                    ));
                }
                body.extend_from_slice(&bytes);
            }
            Ok(None) => return Ok(body),
            Err(error) if error.is_timeout() => {
                return Err(format!(
                    "tool \"{name}\": it did not answer within {} s",
                    limits.timeout.as_secs()
                ));
            }
            Err(_) => return Err(format!("tool \"{name}\": the connection dropped")),
        }
    }
}

//! Orbit as an MCP client: a look at a server (connect, list its tools)
//! and a call of one of its tools, over the Streamable HTTP transport of
//! the official SDK (`rmcp`).
//!
//! The SDK's transport is given Orbit's own HTTP client ([`OutboundHttp`])
//! rather than one of its own, so every request to a server keeps the
//! outbound address rule (public addresses only, checked when resolving
//! and on each connection; no environment proxy; no redirects), and what a
//! server answers is capped as it arrives: a server that streams without
//! end costs no more than the cap. Each look or call is one MCP session,
//! opened and closed within [`ToolLimits::timeout`].
//!
//! An MCP server has no idempotency key of its own: the call's key goes in
//! the request's `_meta` (`orbit/idempotencyKey`) for a server that wants
//! to tell a repeat after a takeover.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use orbit_domain::app_vars::substitute;
use orbit_domain::entities::mcp_server;
use orbit_domain::ids::McpServerId;
use orbit_domain::mcp::{self as rules, HEADER_SEAL_PURPOSE, Listing};
use orbit_domain::tools::StoredHeader;
use orbit_domain::{SealContext, Sealer};
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ClientJsonRpcMessage,
    Implementation, JsonObject, MetaObject, RequestMetaObject, ServerJsonRpcMessage,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse,
};
use serde_json::Value;
use sse_stream::{Sse, SseStream};
use url::Url;

use crate::outbound::Outbound;
use crate::tool_limits::ToolLimits;

/// The most a look at a server may read: a listing holds every tool's
/// schema (up to 128 of 32 KiB each).
const MAX_LISTING_BYTES: usize = 8 * 1024 * 1024;
/// How much of an error page goes into the error.
const MAX_ERROR_DETAIL: usize = 300;
const SESSION_HEADER: &str = "mcp-session-id";
const LAST_EVENT_HEADER: &str = "last-event-id";
const ACCEPT_BOTH: &str = "application/json, text/event-stream";

/// Where a server is and what goes with each request to it, with secret
/// values opened and app variables put in.
pub struct Endpoint {
    pub url: Url,
    pub headers: HashMap<HeaderName, HeaderValue>,
}

impl Endpoint {
    /// The endpoint of a stored server, or why it cannot be reached as
    /// configured (a variable gone, a secret that no longer opens, a URL
    /// the outbound rule refuses).
    pub fn of(
        server: &mcp_server::Model,
        sealer: &dyn Sealer,
        outbound: &Outbound,
        vars: &HashMap<String, String>,
    ) -> Result<Self, String> {
        let put_in = |text: &str| {
            substitute(text, |name| vars.get(name).cloned()).map_err(|name| {
                format!("it refers to {{{{vars.{name}}}}}, which the app no longer has")
            })
        };
        let url = Url::parse(&put_in(&server.url)?).map_err(|_| "its URL is not a URL")?;
        outbound
            .check(&url)
            .map_err(|refused| format!("it cannot be called from here: {refused}"))?;
        let mut headers = HashMap::new();
        for header in StoredHeader::read_all(Some(&server.headers))
            .map_err(|_| "its headers do not read".to_owned())?
        {
            let value = match (&header.value, &header.sealed) {
                (Some(value), _) => value.clone(),
                (None, Some(sealed)) => {
                    let context = SealContext::new(
                        orbit_domain::ids::AppId(server.app_id),
                        HEADER_SEAL_PURPOSE,
                        StoredHeader::seal_row(McpServerId(server.id), &header.name),
                    );
                    sealer.open(sealed, &context).map_err(|_| {
                        "a secret header cannot be read (was ORBIT_SECRETS_KEY changed?): set it again"
                            .to_owned()
                    })?
                }
                (None, None) => continue,
            };
            let name = HeaderName::from_bytes(header.name.as_bytes())
                .map_err(|_| format!("header {} is not a header name", header.name))?;
            let value = HeaderValue::from_str(&put_in(&value)?)
                .map_err(|_| format!("header {} has a value HTTP cannot carry", header.name))?;
            headers.insert(name, value);
        }
        Ok(Self { url, headers })
    }
}

/// Lists the tools of the server named `server_name` at `endpoint`,
/// checked as tools of the app; never an error: a server that cannot be
/// looked at is [`Listing::Failed`] with why. Boxed: `api` awaits it when
/// a server is saved, and would otherwise compile the whole MCP client.
#[orbit_macros::boxed]
pub async fn look(
    outbound: &Outbound,
    limits: ToolLimits,
    server_name: &str,
    endpoint: Endpoint,
) -> Listing {
    let session = async {
        let client = connect(outbound, MAX_LISTING_BYTES, endpoint).await?;
        let listed = client
            .list_all_tools()
            .await
            .map_err(|error| format!("it did not list its tools: {}", short(&error.to_string())));
        let _ = client.cancel().await;
        listed
    };
    match tokio::time::timeout(limits.timeout, session).await {
        Err(_) => Listing::Failed(format!(
            "it did not answer within {} s",
            limits.timeout.as_secs()
        )),
        Ok(Err(why)) => Listing::Failed(why),
        Ok(Ok(tools)) => rules::check_listing(
            server_name,
            tools.into_iter().map(|tool| {
                (
                    tool.name.into_owned(),
                    tool.description.map(Cow::into_owned),
                    Value::Object((*tool.input_schema).clone()),
                )
            }),
        ),
    }
}

/// Calls the server's tool `name` with the model's arguments (an object,
/// checked against the tool's schema by the caller); `Err` is what to tell
/// the model instead of a result.
pub async fn call(
    outbound: &Outbound,
    limits: ToolLimits,
    endpoint: Endpoint,
    name: &str,
    arguments: &Value,
    idempotency_key: &str,
) -> Result<Value, String> {
    let arguments: Option<JsonObject> = match arguments {
        Value::Object(fields) => Some(fields.clone()),
        Value::Null => None,
        _ => return Err("the arguments are not a JSON object".to_owned()),
    };
    let mut meta = JsonObject::new();
    meta.insert(
        "orbit/idempotencyKey".to_owned(),
        Value::String(idempotency_key.to_owned()),
    );
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = arguments;
    params.meta = Some(RequestMetaObject(MetaObject(meta)));
    // The answer may carry the result twice (as text and as structured
    // content) and JSON-RPC around it.
    let cap = limits
        .max_result_bytes
        .saturating_mul(2)
        .saturating_add(64 * 1024);
    let session = async {
        let client = connect(outbound, cap, endpoint).await?;
        let answered = client
            .call_tool(params)
            .await
            .map_err(|error| format!("the call failed: {}", short(&error.to_string())));
        let _ = client.cancel().await;
        answered
    };
    let answered = match tokio::time::timeout(limits.timeout, session).await {
        Err(_) => {
            return Err(format!(
                "it did not answer within {} s",
                limits.timeout.as_secs()
            ));
        }
        Ok(answered) => answered?,
    };
    let result = result_value(answered)?;
    let size = serde_json::to_vec(&result).map_or(usize::MAX, |bytes| bytes.len());
    if size > limits.max_result_bytes {
        return Err(format!(
            "it answered more than {} bytes (ORBIT_TOOL_RESULT_MAX_BYTES)",
            limits.max_result_bytes
        ));
    }
    Ok(result)
}

/// What the model reads of an answer: its structured content when it has
/// one, else its text (JSON when the text is), else its content blocks as
/// sent. An answer marked as an error is the call's error.
fn result_value(answered: CallToolResult) -> Result<Value, String> {
    let texts: Vec<&str> = answered
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
        .collect();
    let all_text = texts.len() == answered.content.len();
    if answered.is_error == Some(true) {
        let detail = if texts.is_empty() {
            "no detail".to_owned()
        } else {
            texts.join("\n")
        };
        return Err(format!("the tool reported an error: {}", short(&detail)));
    }
    if let Some(structured) = answered.structured_content {
        return Ok(structured);
    }
    if all_text {
        let text = texts.join("\n");
        return Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)));
    }
    serde_json::to_value(&answered.content).map_err(|_| "its answer does not read".to_owned())
}

fn short(text: &str) -> String {
    let mut kept: String = text.trim().chars().take(MAX_ERROR_DETAIL).collect();
    if kept.len() < text.trim().len() {
        kept.push('…');
    }
    kept
}

type Session = rmcp::service::RunningService<rmcp::RoleClient, ClientConfig>;

async fn connect(
    outbound: &Outbound,
    max_bytes: usize,
    endpoint: Endpoint,
) -> Result<Session, String> {
    let http = OutboundHttp {
        client: outbound.client().clone(),
        max_bytes,
    };
    let mut config = StreamableHttpClientTransportConfig::with_uri(endpoint.url.as_str());
    config.custom_headers = endpoint.headers;
    config.max_json_response_size = max_bytes;
    config.max_sse_event_size = max_bytes;
    let transport = StreamableHttpClientTransport::with_client(http, config);
    let info = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("orbit", env!("CARGO_PKG_VERSION")),
    );
    info.serve(transport).await.map_err(|error| {
        format!(
            "it could not be connected to over MCP: {}",
            short(&error.to_string())
        )
    })
}

/// The SDK's Streamable HTTP transport over Orbit's outbound client. Every
/// body is read through [`capped`], so no answer grows past `max_bytes`.
#[derive(Clone)]
struct OutboundHttp {
    client: reqwest::Client,
    max_bytes: usize,
}

/// Why a body stopped being read.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("the answer passed {0} bytes")]
    TooLarge(usize),
    #[error("reading the answer failed: {0}")]
    Read(#[from] reqwest::Error),
}

/// The body as it arrives, ended with an error once it passes `max_bytes`.
fn capped(
    response: reqwest::Response,
    max_bytes: usize,
) -> BoxStream<'static, Result<Bytes, BodyError>> {
    futures::stream::unfold(
        (Some(response), 0usize),
        move |(response, read)| async move {
            let mut response = response?;
            match response.chunk().await {
                Ok(Some(bytes)) if read + bytes.len() > max_bytes => {
                    Some((Err(BodyError::TooLarge(max_bytes)), (None, read)))
                }
                Ok(Some(bytes)) => {
                    let read = read + bytes.len();
                    Some((Ok(bytes), (Some(response), read)))
                }
                Ok(None) => None,
                Err(error) => Some((Err(BodyError::Read(error)), (None, read))),
            }
        },
    )
    .boxed()
}

async fn read_all(response: reqwest::Response, max_bytes: usize) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    let mut chunks = capped(response, max_bytes);
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk?);
    }
    Ok(body)
}

fn sse(response: reqwest::Response, max_bytes: usize) -> BoxStream<'static, Result<Sse, SseError>> {
    SseStream::from_bytes_stream(capped(response, max_bytes)).boxed()
}

fn media_type(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
}

fn unexpected(why: String) -> StreamableHttpError<reqwest::Error> {
    StreamableHttpError::UnexpectedServerResponse(Cow::Owned(why))
}

fn body_error(error: BodyError) -> StreamableHttpError<reqwest::Error> {
    match error {
        BodyError::TooLarge(max_size) => StreamableHttpError::ResponseBodyTooLarge { max_size },
        BodyError::Read(error) => StreamableHttpError::Client(error),
    }
}

impl OutboundHttp {
    fn request(
        &self,
        method: reqwest::Method,
        uri: &str,
        session_id: Option<&str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> reqwest::RequestBuilder {
        let mut request = self.client.request(method, uri);
        for (name, value) in custom_headers {
            request = request.header(name, value);
        }
        if let Some(token) = auth_header {
            request = request.bearer_auth(token);
        }
        if let Some(session) = session_id {
            request = request.header(SESSION_HEADER, session);
        }
        request
    }
}

impl StreamableHttpClient for OutboundHttp {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let had_session = session_id.is_some();
        let awaits_no_answer = !matches!(message, ClientJsonRpcMessage::Request(_));
        let response = self
            .request(
                reqwest::Method::POST,
                &uri,
                session_id.as_deref(),
                auth_header,
                custom_headers,
            )
            .header(reqwest::header::ACCEPT, ACCEPT_BOTH)
            .json(&message)
            .send()
            .await
            .map_err(StreamableHttpError::Client)?;
        let status = response.status();
        if matches!(
            status,
            reqwest::StatusCode::ACCEPTED | reqwest::StatusCode::NO_CONTENT
        ) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == reqwest::StatusCode::NOT_FOUND && had_session {
            return Err(StreamableHttpError::SessionExpired);
        }
        let session = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let media_type = media_type(&response);
        if !status.is_success() {
            let body = read_all(response, MAX_ERROR_DETAIL * 4)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&body);
            // A JSON-RPC error carried by an error status is the answer.
            if let Ok(error @ ServerJsonRpcMessage::Error(_)) = serde_json::from_str(&text) {
                return Ok(StreamableHttpPostResponse::Json(error, session));
            }
            return Err(unexpected(format!("HTTP {status}: {}", short(&text))));
        }
        match media_type.as_deref() {
            Some("text/event-stream") => Ok(StreamableHttpPostResponse::Sse(
                sse(response, self.max_bytes),
                session,
            )),
            Some("application/json") => {
                let body = read_all(response, self.max_bytes)
                    .await
                    .map_err(body_error)?;
                match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
                    Ok(answer) => Ok(StreamableHttpPostResponse::Json(answer, session)),
                    Err(_) if awaits_no_answer => Ok(StreamableHttpPostResponse::Accepted),
                    Err(error) => Err(StreamableHttpError::Deserialize(error)),
                }
            }
            // A notification needs nothing back; some servers answer 200
            // with no body rather than 202.
            _ if awaits_no_answer => Ok(StreamableHttpPostResponse::Accepted),
            other => Err(StreamableHttpError::UnexpectedContentType(
                other.map(str::to_owned),
            )),
        }
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        // Closing is a courtesy: a server that does not take DELETE, or has
        // already forgotten the session, changes nothing here.
        let _ = self
            .request(
                reqwest::Method::DELETE,
                &uri,
                Some(&session_id),
                auth_header,
                custom_headers,
            )
            .send()
            .await
            .map_err(StreamableHttpError::Client)?;
        Ok(())
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        let mut request = self
            .request(
                reqwest::Method::GET,
                &uri,
                session_id.as_deref(),
                auth_header,
                custom_headers,
            )
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(last) = last_event_id {
            request = request.header(LAST_EVENT_HEADER, last);
        }
        let response = request.send().await.map_err(StreamableHttpError::Client)?;
        let status = response.status();
        if status == reqwest::StatusCode::METHOD_NOT_ALLOWED {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        if !status.is_success() {
            return Err(unexpected(format!(
                "HTTP {status} to a GET of the event stream"
            )));
        }
        match media_type(&response).as_deref() {
            Some("text/event-stream") => Ok(sse(response, self.max_bytes)),
            other => Err(StreamableHttpError::UnexpectedContentType(
                other.map(str::to_owned),
            )),
        }
    }
}

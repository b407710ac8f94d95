//! Tools an app's agents may call: create, change, delete and read them,
//! and give them to agents. Managed like agents: the app's secret key and
//! its developers (`managed_app`: viewers read, developers and up change).
//!
//! Header values a caller marks secret are sealed to the tool and the
//! header's name (`tool.header`, `<tool id>/<name>`) and never returned;
//! an update may name a secret header without its value to keep the value
//! saved before.

use std::collections::HashSet;

use orbit_domain::builtin_tools::BuiltinTool;
use orbit_domain::entities::{agent, agent_tool_call, tool};
use orbit_domain::ids::{AgentId, AgentReplyId, AppScope, ToolId};
use orbit_domain::policy::AppAction;
use orbit_domain::routines::HttpMethod;
use orbit_domain::tools::{
    self as rules, HEADER_SEAL_PURPOSE, MAX_AGENT_TOOLS, MAX_TOOL_HEADERS, StoredHeader,
};
use orbit_domain::{DomainError, DomainResult, SealContext};
use orbit_persistence::tools::{self, HttpCall, NewTool, ToolChanges};
use orbit_persistence::{Page, PageArgs, agents, tool_calls};
use serde_json::Value;

use super::access;
use super::app_vars::Vars;
use super::outbound::callable_url;
use crate::Services;
use crate::viewer::Viewer;

/// A header as the caller gives it.
pub struct HeaderInput {
    pub name: String,
    /// Omitted for a secret header: keep the value saved before.
    pub value: Option<String>,
    pub secret: bool,
}

/// How an HTTP tool is called, as the caller gives it.
pub struct HttpInput {
    pub url: String,
    pub method: HttpMethod,
    pub headers: Vec<HeaderInput>,
}

pub struct CreateTool {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    pub http: HttpInput,
    /// Each call waits for a person's approval before it is made.
    pub requires_approval: bool,
}

/// `None` keeps the value; `http` replaces the call as a whole.
pub struct UpdateTool {
    pub name: Option<String>,
    pub description: Option<String>,
    pub input_schema: Option<Value>,
    pub http: Option<HttpInput>,
    pub requires_approval: Option<bool>,
}

/// A header as shown: a secret one without its value.
pub struct ShownHeader {
    pub name: String,
    pub value: Option<String>,
    pub secret: bool,
}

pub async fn create(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    input: CreateTool,
) -> DomainResult<tool::Model> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::Build).await?;
    let id = ToolId::generate();
    let vars = Vars::of(services, scope).await?;
    let new = NewTool {
        id,
        name: app_tool_name(&input.name)?,
        description: rules::tool_description("description", &input.description)?,
        input_schema: checked_schema(input.input_schema)?,
        http: http_call(services, scope, id, input.http, &[], &vars)?,
        requires_approval: input.requires_approval,
    };
    tools::create(services.db(), scope, services.clock().now(), new).await
}

pub async fn update(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    id: &str,
    input: UpdateTool,
) -> DomainResult<tool::Model> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::Build).await?;
    let existing = find_in(services, scope, id).await?;
    if existing.mcp_server_id.is_some() {
        let listed = [
            ("name", input.name.is_some()),
            ("description", input.description.is_some()),
            ("inputSchema", input.input_schema.is_some()),
            ("http", input.http.is_some()),
        ];
        if let Some((field, _)) = listed.into_iter().find(|(_, given)| *given) {
            return Err(DomainError::bad_input(
                field,
                "a tool of an MCP server is as its server lists it (change it there and refreshMcpServer); only requiresApproval is set here",
            ));
        }
    }
    let tool_id = ToolId(existing.id);
    let http = match input.http {
        Some(http) => {
            let saved = StoredHeader::read_all(existing.http_headers.as_ref())?;
            let vars = Vars::of(services, scope).await?;
            Some(http_call(services, scope, tool_id, http, &saved, &vars)?)
        }
        None => None,
    };
    let changes = ToolChanges {
        name: input.name.as_deref().map(app_tool_name).transpose()?,
        description: input
            .description
            .map(|text| rules::tool_description("description", &text))
            .transpose()?,
        input_schema: input.input_schema.map(checked_schema).transpose()?,
        http,
        requires_approval: input.requires_approval,
    };
    tools::update(services.db(), existing, services.clock().now(), changes).await
}

/// Deletes a tool: agents that had it lose it.
pub async fn delete(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    id: &str,
) -> DomainResult<ToolId> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::Build).await?;
    let existing = find_in(services, scope, id).await?;
    if existing.mcp_server_id.is_some() {
        return Err(DomainError::bad_input(
            "id",
            "a tool of an MCP server goes when its server stops listing it, or with deleteMcpServer",
        ));
    }
    let id = ToolId(existing.id);
    tools::delete(services.db(), scope, id).await?;
    Ok(id)
}

/// A tool of the app; another app's answers NOT_FOUND like one that does not exist.
pub async fn find(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    id: &str,
) -> DomainResult<tool::Model> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::View).await?;
    find_in(services, scope, id).await
}

/// The app whose tools the caller may read (pages of them are keyed by it).
pub async fn readable_app(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
) -> DomainResult<AppScope> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::View).await?;
    Ok(scope)
}

/// The tools of an app from [`readable_app`], oldest first.
pub async fn list(
    services: &Services,
    scope: AppScope,
    args: PageArgs,
) -> DomainResult<Page<tool::Model>> {
    tools::list(services.db(), scope, args).await
}

/// Gives the agent exactly these tools (none clears them) and, when
/// `builtins` is given, exactly these built-in tools.
pub async fn set_for_agent(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    agent_id: &str,
    tool_ids: &[String],
    builtins: Option<&[BuiltinTool]>,
) -> DomainResult<agent::Model> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::Build).await?;
    let agent = AgentId::parse_field(agent_id, "agentId")?;
    let mut ids = Vec::with_capacity(tool_ids.len());
    for id in tool_ids {
        let id = ToolId::parse_field(id, "toolIds")?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > MAX_AGENT_TOOLS {
        return Err(DomainError::bad_input(
            "toolIds",
            format!("an agent may have at most {MAX_AGENT_TOOLS} tools"),
        ));
    }
    tools::set_for_agent(
        services.db(),
        scope,
        agent,
        &ids,
        builtins,
        services.clock().now(),
    )
    .await?;
    agents::find(services.db(), scope, agent)
        .await?
        .ok_or_else(|| DomainError::not_found("agent").with_field("agentId"))
}

/// The tools an agent may call (for its managers).
pub async fn of_agent(services: &Services, agent: &agent::Model) -> DomainResult<Vec<tool::Model>> {
    let scope = AppScope::new(orbit_domain::ids::AppId(agent.app_id));
    tools::of_agent(services.db(), scope, AgentId(agent.id)).await
}

/// The tool calls of a reply of `scope`'s app (whoever may see the reply
/// may see them).
pub async fn calls_of_reply(
    services: &Services,
    scope: AppScope,
    reply: AgentReplyId,
) -> DomainResult<Vec<agent_tool_call::Model>> {
    tool_calls::of_reply(services.db(), scope, reply.uuid()).await
}

/// The tool's headers as its managers see them.
pub fn shown_headers(tool: &tool::Model) -> DomainResult<Vec<ShownHeader>> {
    ShownHeader::all(tool.http_headers.as_ref())
}

impl ShownHeader {
    /// Stored headers as their managers see them: secret values left out.
    pub fn all(stored: Option<&Value>) -> DomainResult<Vec<ShownHeader>> {
        Ok(StoredHeader::read_all(stored)?
            .into_iter()
            .map(|header| ShownHeader {
                secret: header.is_secret(),
                value: if header.is_secret() {
                    None
                } else {
                    header.value
                },
                name: header.name,
            })
            .collect())
    }
}

async fn find_in(services: &Services, scope: AppScope, id: &str) -> DomainResult<tool::Model> {
    let id = ToolId::parse_field(id, "id")?;
    tools::find(services.db(), scope, id)
        .await?
        .ok_or_else(|| DomainError::not_found("tool").with_field("id"))
}

/// A name for a tool the app makes: a name models accept, not one of the
/// built-in tools' (`orbit_...`).
fn app_tool_name(name: &str) -> DomainResult<String> {
    orbit_domain::builtin_tools::not_reserved("name", name)?;
    rules::tool_name("name", name)
}

fn checked_schema(schema: Value) -> DomainResult<Value> {
    rules::input_schema("inputSchema", &schema)?;
    Ok(schema)
}

/// The call as stored: the URL checked against the outbound address rules
/// (with the app's variables put in), header names and values checked,
/// secret values sealed; `{{vars.NAME}}` in the URL and the values must
/// name variables the app has, and stays as written, to be put in at each
/// call. `saved` are the tool's headers before this change, whose secret
/// values a header given without a value keeps.
fn http_call(
    services: &Services,
    scope: AppScope,
    tool: ToolId,
    http: HttpInput,
    saved: &[StoredHeader],
    vars: &Vars,
) -> DomainResult<HttpCall> {
    let url = stored_url(services, "http.url", &http.url, vars)?;
    let headers = stored_headers(
        services,
        scope,
        "http.headers",
        SealedTo {
            purpose: HEADER_SEAL_PURPOSE,
            owner: tool.to_string(),
        },
        http.headers,
        saved,
        vars,
    )?;
    Ok(HttpCall {
        url,
        method: http.method,
        headers,
    })
}

/// A URL to call as stored: checked against the outbound address rule with
/// the app's variables put in; kept as written when it names variables (they
/// are put in at each call), else in its normal form.
pub(super) fn stored_url(
    services: &Services,
    field: &str,
    url: &str,
    vars: &Vars,
) -> DomainResult<String> {
    vars.check(field, url)?;
    let checked = callable_url(services, field, &vars.put_in(url))?;
    Ok(if orbit_domain::app_vars::referenced(url).is_empty() {
        checked.to_string()
    } else {
        url.trim().to_owned()
    })
}

/// Where a header's secret value is sealed: the purpose, and the owner the
/// row is named after (`<owner>/<header name, lowercase>`).
pub(super) struct SealedTo {
    pub purpose: &'static str,
    pub owner: String,
}

/// Headers as stored: names and values checked, `{{vars.NAME}}` in values
/// known to the app (kept as written, put in at each call), secret values
/// sealed; a secret header given without a value keeps the value `saved`
/// before. `field` is the input list's name, for errors.
pub(super) fn stored_headers(
    services: &Services,
    scope: AppScope,
    field: &str,
    sealed_to: SealedTo,
    given: Vec<HeaderInput>,
    saved: &[StoredHeader],
    vars: &Vars,
) -> DomainResult<Vec<StoredHeader>> {
    if given.len() > MAX_TOOL_HEADERS {
        return Err(DomainError::bad_input(
            field,
            format!("at most {MAX_TOOL_HEADERS} headers"),
        ));
    }
    let mut seen = HashSet::new();
    let mut headers = Vec::with_capacity(given.len());
    for (index, header) in given.into_iter().enumerate() {
        let field = |part: &str| format!("{field}.{index}.{part}");
        let name = rules::header_name(&field("name"), &header.name)?;
        let key = name.to_ascii_lowercase();
        if !seen.insert(key.clone()) {
            return Err(DomainError::bad_input(
                field("name"),
                "names a header already given (names are case-insensitive)",
            ));
        }
        let stored = match (header.secret, header.value) {
            (false, Some(value)) => {
                vars.check(&field("value"), &value)?;
                StoredHeader {
                    value: Some(rules::header_value(&field("value"), &value)?),
                    sealed: None,
                    name,
                }
            }
            (false, None) => {
                return Err(DomainError::bad_input(
                    field("value"),
                    "a header that is not secret needs its value",
                ));
            }
            (true, Some(value)) => {
                vars.check(&field("value"), &value)?;
                let value = rules::header_value(&field("value"), &value)?;
                let context = SealContext::new(
                    scope.app_id(),
                    sealed_to.purpose,
                    StoredHeader::seal_row(&sealed_to.owner, &name),
                );
                StoredHeader {
                    sealed: Some(services.sealer().seal(&value, &context)),
                    value: None,
                    name,
                }
            }
            (true, None) => {
                let kept = saved
                    .iter()
                    .find(|old| old.is_secret() && old.name.to_ascii_lowercase() == key)
                    .ok_or_else(|| {
                        DomainError::bad_input(
                            field("value"),
                            "a new secret header needs its value (omit it only to keep a secret saved before)",
                        )
                    })?;
                StoredHeader {
                    sealed: kept.sealed.clone(),
                    value: None,
                    name,
                }
            }
        };
        headers.push(stored);
    }
    Ok(headers)
}

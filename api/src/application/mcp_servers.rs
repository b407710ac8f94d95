//! MCP servers an app registers, whose tools become tools of the app.
//! Managed like tools: the app's secret key and its developers (viewers
//! read, developers and up change).
//!
//! Registering a server looks at it at once (connect, list its tools) and
//! stores what the look found in the same step; `refresh` looks again.
//! A server that cannot be looked at is still stored, marked `failed` with
//! why, so a developer sees the reason and refreshes once it is fixed; a
//! later failed look keeps the tools of the last good one.

use orbit_domain::entities::{mcp_server, tool};
use orbit_domain::ids::{AppScope, McpServerId};
use orbit_domain::mcp::{self as rules, HEADER_SEAL_PURPOSE, Listing};
use orbit_domain::policy::AppAction;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::mcp_servers::{self, NewServer};
use orbit_persistence::{Page, PageArgs};
use orbit_worker::mcp::Endpoint;

use super::access;
use super::app_vars::Vars;
use super::tools::{HeaderInput, SealedTo, stored_headers, stored_url};
use crate::Services;
use crate::viewer::Viewer;

pub struct CreateMcpServer {
    pub name: String,
    /// Its Streamable HTTP endpoint; may name `{{vars.NAME}}`.
    pub url: String,
    pub headers: Vec<HeaderInput>,
}

pub async fn create(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    input: CreateMcpServer,
) -> DomainResult<mcp_server::Model> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::Build).await?;
    let id = McpServerId::generate();
    orbit_domain::builtin_tools::not_reserved("name", &input.name)?;
    let name = rules::server_name("name", &input.name)?;
    let vars = Vars::of(services, scope).await?;
    let url = stored_url(services, "url", &input.url, &vars)?;
    let headers = stored_headers(
        services,
        scope,
        "headers",
        SealedTo {
            purpose: HEADER_SEAL_PURPOSE,
            owner: id.to_string(),
        },
        input.headers,
        &[],
        &vars,
    )?;
    let now = services.clock().now();
    // The look needs the server as it will be stored (its sealed headers
    // open only under its id): it is made from the same parts.
    let unsaved = mcp_server::Model {
        id: id.uuid(),
        app_id: scope.uuid(),
        name: name.clone(),
        url: url.clone(),
        headers: serde_json::to_value(&headers).map_err(DomainError::internal)?,
        status: String::new(),
        last_error: None,
        left_out: serde_json::Value::Array(Vec::new()),
        synced_at: None,
        created_at: now,
        updated_at: now,
    };
    let listing = look(services, scope, &unsaved).await?;
    let new = NewServer {
        id,
        name,
        url,
        headers,
    };
    mcp_servers::create(services.db(), scope, now, new, &listing).await
}

/// Looks at the server again and brings its tools in step.
pub async fn refresh(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    id: &str,
) -> DomainResult<mcp_server::Model> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::Build).await?;
    let server = find_in(services, scope, id).await?;
    let listing = look(services, scope, &server).await?;
    mcp_servers::synced(services.db(), server, services.clock().now(), &listing).await
}

/// Deletes a server and its tools: agents that had them lose them.
pub async fn delete(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    id: &str,
) -> DomainResult<McpServerId> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::Build).await?;
    let id = McpServerId::parse_field(id, "id")?;
    mcp_servers::delete(services.db(), scope, id).await?;
    Ok(id)
}

/// A server of the app; another app's answers NOT_FOUND like one that does not exist.
pub async fn find(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    id: &str,
) -> DomainResult<mcp_server::Model> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::View).await?;
    find_in(services, scope, id).await
}

/// The server a tool came from (for those who may read the tool).
pub async fn of_tool(
    services: &Services,
    tool: &tool::Model,
) -> DomainResult<Option<mcp_server::Model>> {
    let Some(server) = tool.mcp_server_id else {
        return Ok(None);
    };
    let scope = AppScope::new(orbit_domain::ids::AppId(tool.app_id));
    mcp_servers::find(services.db(), scope, McpServerId(server)).await
}

/// The servers of an app from [`super::tools::readable_app`], oldest first.
pub async fn list(
    services: &Services,
    scope: AppScope,
    args: PageArgs,
) -> DomainResult<Page<mcp_server::Model>> {
    mcp_servers::list(services.db(), scope, args).await
}

/// The tools kept from the server, by name.
pub async fn tools_of(
    services: &Services,
    server: &mcp_server::Model,
) -> DomainResult<Vec<tool::Model>> {
    mcp_servers::tools_of(services.db(), server).await
}

/// Tools the server listed that the app could not keep: `(name, reason)`.
pub fn left_out(server: &mcp_server::Model) -> Vec<(String, String)> {
    let Some(list) = server.left_out.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|entry| {
            Some((
                entry.get("name")?.as_str()?.to_owned(),
                entry.get("reason")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The server's headers as its managers see them.
pub fn shown_headers(server: &mcp_server::Model) -> DomainResult<Vec<super::tools::ShownHeader>> {
    super::tools::ShownHeader::all(Some(&server.headers))
}

async fn look(
    services: &Services,
    scope: AppScope,
    server: &mcp_server::Model,
) -> DomainResult<Listing> {
    let vars = orbit_worker::vars::values(services.db(), services.sealer().as_ref(), scope).await?;
    Ok(
        match Endpoint::of(
            server,
            services.sealer().as_ref(),
            services.outbound(),
            &vars,
        ) {
            Ok(endpoint) => {
                orbit_worker::mcp::look(
                    services.outbound(),
                    services.tool_limits(),
                    &server.name,
                    endpoint,
                )
                .await
            }
            Err(why) => Listing::Failed(why),
        },
    )
}

async fn find_in(
    services: &Services,
    scope: AppScope,
    id: &str,
) -> DomainResult<mcp_server::Model> {
    let id = McpServerId::parse_field(id, "id")?;
    mcp_servers::find(services.db(), scope, id)
        .await?
        .ok_or_else(|| DomainError::not_found("MCP server").with_field("id"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn left_out_tools_read_back_and_odd_entries_are_skipped() {
        let now = chrono::Utc::now();
        let server = mcp_server::Model {
            id: uuid::Uuid::nil(),
            app_id: uuid::Uuid::nil(),
            name: "docs".into(),
            url: "https://example.com/mcp".into(),
            headers: json!([]),
            status: "ready".into(),
            last_error: None,
            left_out: json!([{"name": "a b", "reason": "bad name"}, {"name": 3}]),
            synced_at: None,
            created_at: now,
            updated_at: now,
        };
        assert_eq!(
            left_out(&server),
            [("a b".to_owned(), "bad name".to_owned())]
        );
    }
}

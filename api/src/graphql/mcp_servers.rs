//! MCP servers an app registers (`application::mcp_servers` does the work).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_domain::entities::mcp_server;
use orbit_domain::ids::McpServerId;
use orbit_domain::mcp::ServerStatus;

use super::pagination::{Conn, CursorList};
use super::tools::{ToolHeader, ToolHeaderInput, ToolNode};
use super::{GqlResult, services, viewer};
use crate::application::mcp_servers::{self, CreateMcpServer};
use crate::application::tools;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum McpServerStatus {
    /// The last look listed its tools.
    Ready,
    /// The last look failed (`lastError` says why); the tools of the last
    /// good look stay, and calls of them fail while the server is down.
    Failed,
}

/// A tool a server listed that the app could not keep.
#[derive(SimpleObject)]
pub struct McpLeftOutTool {
    /// The server's name for it.
    name: String,
    reason: String,
}

/// An MCP server of the app: Orbit connects to it over Streamable HTTP and
/// keeps its tools as tools of the app, named `<server>__<tool>`.
pub struct McpServerNode(pub mcp_server::Model);

#[Object(name = "McpServer")]
impl McpServerNode {
    async fn id(&self) -> ID {
        ID(McpServerId(self.0.id).to_string())
    }
    /// Unique in the app; the first part of its tools' names.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Its Streamable HTTP endpoint, as written (`{{vars.NAME}}` kept).
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Sent with every request to it; secret values are never returned.
    async fn headers(&self) -> GqlResult<Vec<ToolHeader>> {
        Ok(mcp_servers::shown_headers(&self.0)?
            .into_iter()
            .map(ToolHeader::from)
            .collect())
    }
    async fn status(&self) -> GqlResult<McpServerStatus> {
        Ok(match self.0.status.parse::<ServerStatus>()? {
            ServerStatus::Ready => McpServerStatus::Ready,
            ServerStatus::Failed => McpServerStatus::Failed,
        })
    }
    /// Why the last look failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// The tools kept from it, by name: give them to agents with
    /// `setAgentTools` like any other tool.
    async fn tools(&self, ctx: &Context<'_>) -> GqlResult<Vec<ToolNode>> {
        Ok(mcp_servers::tools_of(services(ctx), &self.0)
            .await?
            .into_iter()
            .map(ToolNode)
            .collect())
    }
    /// Tools it listed that the app could not keep (a name a model would
    /// refuse, a schema that breaks the rules for tools, a name another tool
    /// of the app has), from the last good look.
    async fn left_out_tools(&self) -> Vec<McpLeftOutTool> {
        mcp_servers::left_out(&self.0)
            .into_iter()
            .map(|(name, reason)| McpLeftOutTool { name, reason })
            .collect()
    }
    /// When its tools were last listed.
    async fn synced_at(&self) -> Option<DateTime<Utc>> {
        self.0.synced_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject)]
pub struct CreateMcpServerInput {
    /// The app: required for developers, may be omitted with the secret key.
    app_id: Option<ID>,
    /// 1 to 24 of `A-Z a-z 0-9 _ -`, without `__`: its tools are named
    /// `<name>__<tool>`.
    name: String,
    /// Its Streamable HTTP endpoint. Public addresses only, unless the
    /// server sets ORBIT_WEBHOOK_ALLOW_PRIVATE; may name `{{vars.NAME}}`.
    url: String,
    /// Sent with every request (an `Authorization` header, marked secret).
    #[graphql(default)]
    headers: Vec<ToolHeaderInput>,
}

#[derive(SimpleObject)]
pub struct CreateMcpServerPayload {
    mcp_server: McpServerNode,
}

#[derive(InputObject)]
pub struct RefreshMcpServerInput {
    app_id: Option<ID>,
    id: ID,
}

#[derive(SimpleObject)]
pub struct RefreshMcpServerPayload {
    mcp_server: McpServerNode,
}

#[derive(InputObject)]
pub struct DeleteMcpServerInput {
    app_id: Option<ID>,
    id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteMcpServerPayload {
    deleted_mcp_server_id: ID,
}

#[derive(Default)]
pub struct McpServerQuery;

#[Object]
impl McpServerQuery {
    /// The app's MCP servers, oldest first: for its secret key and developers.
    async fn mcp_servers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        app_id: Option<ID>,
    ) -> GqlResult<Conn<McpServerNode>> {
        let services = services(ctx);
        let scope =
            tools::readable_app(services, viewer(ctx), app_id.as_deref().map(String::as_str))
                .await?;
        let list = CursorList::new("mcpServers", scope.app_id());
        let page = mcp_servers::list(services, scope, list.forward_args(first, after)?).await?;
        Ok(list.connection(page, |server| server.id, McpServerNode))
    }

    /// An MCP server of the app; null (NOT_FOUND) when there is none by this id.
    async fn mcp_server(
        &self,
        ctx: &Context<'_>,
        id: ID,
        app_id: Option<ID>,
    ) -> GqlResult<Option<McpServerNode>> {
        let server = mcp_servers::find(
            services(ctx),
            viewer(ctx),
            app_id.as_deref().map(String::as_str),
            &id,
        )
        .await?;
        Ok(Some(McpServerNode(server)))
    }
}

#[derive(Default)]
pub struct McpServerMutation;

#[Object]
impl McpServerMutation {
    /// Registers an MCP server and lists its tools at once. A server that
    /// cannot be reached is stored as FAILED with `lastError`: fix it and
    /// `refreshMcpServer`.
    async fn create_mcp_server(
        &self,
        ctx: &Context<'_>,
        input: CreateMcpServerInput,
    ) -> GqlResult<CreateMcpServerPayload> {
        let create = CreateMcpServer {
            name: input.name,
            url: input.url,
            headers: input.headers.into_iter().map(Into::into).collect(),
        };
        let server = mcp_servers::create(
            services(ctx),
            viewer(ctx),
            input.app_id.as_deref().map(String::as_str),
            create,
        )
        .await?;
        Ok(CreateMcpServerPayload {
            mcp_server: McpServerNode(server),
        })
    }

    /// Lists the server's tools again: new ones are added, changed ones
    /// updated, gone ones deleted (agents that had them lose them).
    async fn refresh_mcp_server(
        &self,
        ctx: &Context<'_>,
        input: RefreshMcpServerInput,
    ) -> GqlResult<RefreshMcpServerPayload> {
        let server = mcp_servers::refresh(
            services(ctx),
            viewer(ctx),
            input.app_id.as_deref().map(String::as_str),
            &input.id,
        )
        .await?;
        Ok(RefreshMcpServerPayload {
            mcp_server: McpServerNode(server),
        })
    }

    /// Deletes the server and its tools; agents that had them lose them.
    async fn delete_mcp_server(
        &self,
        ctx: &Context<'_>,
        input: DeleteMcpServerInput,
    ) -> GqlResult<DeleteMcpServerPayload> {
        let id = mcp_servers::delete(
            services(ctx),
            viewer(ctx),
            input.app_id.as_deref().map(String::as_str),
            &input.id,
        )
        .await?;
        Ok(DeleteMcpServerPayload {
            deleted_mcp_server_id: ID(id.to_string()),
        })
    }
}

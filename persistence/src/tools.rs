//! An app's tools, and which agents may call them. Secret header values
//! arrive sealed: this module stores what it is given.

use chrono::{DateTime, Utc};
use orbit_domain::builtin_tools::BuiltinTool;
use orbit_domain::entities::{agent, agent_tool, tool};
use orbit_domain::ids::{AgentId, AppScope, ToolId};
use orbit_domain::routines::HttpMethod;
use orbit_domain::tools::{StoredHeader, ToolKind};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use crate::error::is_unique_violation;
use crate::{Db, Page, PageArgs, db_error, keyset};

fn name_taken(error: DbErr) -> DomainError {
    if is_unique_violation(&error) {
        DomainError::conflict("another tool of the app has this name").with_field("name")
    } else {
        db_error(error)
    }
}

/// How an HTTP tool is called.
#[derive(Debug, Clone)]
pub struct HttpCall {
    pub url: String,
    pub method: HttpMethod,
    pub headers: Vec<StoredHeader>,
}

pub struct NewTool {
    pub id: ToolId,
    pub name: String,
    pub description: String,
    pub input_schema: serde_json::Value,
    pub http: HttpCall,
    pub requires_approval: bool,
}

fn headers_json(headers: &[StoredHeader]) -> DomainResult<serde_json::Value> {
    serde_json::to_value(headers).map_err(DomainError::internal)
}

#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    new: NewTool,
) -> DomainResult<tool::Model> {
    tool::ActiveModel {
        id: Set(new.id.uuid()),
        app_id: Set(scope.uuid()),
        name: Set(new.name),
        description: Set(new.description),
        input_schema: Set(new.input_schema),
        kind: Set(ToolKind::Http.as_str().to_owned()),
        http_url: Set(Some(new.http.url)),
        http_method: Set(Some(new.http.method.as_str().to_owned())),
        http_headers: Set(Some(headers_json(&new.http.headers)?)),
        requires_approval: Set(new.requires_approval),
        mcp_server_id: Set(None),
        mcp_tool_name: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db.conn())
    .await
    .map_err(name_taken)
}

#[orbit_macros::boxed]
pub async fn find(db: &Db, scope: AppScope, id: ToolId) -> DomainResult<Option<tool::Model>> {
    tool::Entity::find_by_id(id.uuid())
        .filter(tool::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// What an update changes; `None` keeps the value.
#[derive(Default)]
pub struct ToolChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub input_schema: Option<serde_json::Value>,
    pub http: Option<HttpCall>,
    pub requires_approval: Option<bool>,
}

/// Changes `existing` (a tool the caller found in its app).
#[orbit_macros::boxed]
pub async fn update(
    db: &Db,
    existing: tool::Model,
    now: DateTime<Utc>,
    changes: ToolChanges,
) -> DomainResult<tool::Model> {
    let mut active: tool::ActiveModel = existing.into();
    if let Some(name) = changes.name {
        active.name = Set(name);
    }
    if let Some(description) = changes.description {
        active.description = Set(description);
    }
    if let Some(schema) = changes.input_schema {
        active.input_schema = Set(schema);
    }
    if let Some(http) = changes.http {
        active.http_url = Set(Some(http.url));
        active.http_method = Set(Some(http.method.as_str().to_owned()));
        active.http_headers = Set(Some(headers_json(&http.headers)?));
    }
    if let Some(requires_approval) = changes.requires_approval {
        active.requires_approval = Set(requires_approval);
    }
    active.updated_at = Set(now);
    active.update(db.conn()).await.map_err(name_taken)
}

/// Deletes a tool; agents that had it lose it with it.
#[orbit_macros::boxed]
pub async fn delete(db: &Db, scope: AppScope, id: ToolId) -> DomainResult<()> {
    let deleted = tool::Entity::delete_many()
        .filter(tool::Column::AppId.eq(scope.uuid()))
        .filter(tool::Column::Id.eq(id.uuid()))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::not_found("tool").with_field("id"));
    }
    Ok(())
}

/// The app's tools, oldest first.
#[orbit_macros::boxed]
pub async fn list(db: &Db, scope: AppScope, args: PageArgs) -> DomainResult<Page<tool::Model>> {
    let select = tool::Entity::find().filter(tool::Column::AppId.eq(scope.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(tool::Column::AppId),
        tool::Column::Id,
        false,
        args,
    )
    .await
}

/// The tools `agent` may call, by name.
#[orbit_macros::boxed]
pub async fn of_agent(db: &Db, scope: AppScope, agent: AgentId) -> DomainResult<Vec<tool::Model>> {
    let ids: Vec<Uuid> = agent_tool::Entity::find()
        .filter(agent_tool::Column::AppId.eq(scope.uuid()))
        .filter(agent_tool::Column::AgentId.eq(agent.uuid()))
        .all(db.conn())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| row.tool_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    tool::Entity::find()
        .filter(tool::Column::AppId.eq(scope.uuid()))
        .filter(tool::Column::Id.is_in(ids))
        .order_by_asc(tool::Column::Name)
        .all(db.conn())
        .await
        .map_err(db_error)
}

/// Gives `agent` exactly `tools` (all of the app; checked by the caller,
/// and here again in the transaction, so a tool deleted meanwhile is
/// NOT_FOUND rather than a dangling row) and, when given, exactly these
/// built-in tools.
#[orbit_macros::boxed]
pub async fn set_for_agent(
    db: &Db,
    scope: AppScope,
    agent: AgentId,
    tools: &[ToolId],
    builtins: Option<&[BuiltinTool]>,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let agent_found = agent::Entity::find_by_id(agent.uuid())
        .filter(agent::Column::AppId.eq(scope.uuid()))
        .count(&txn)
        .await
        .map_err(db_error)?;
    if agent_found == 0 {
        return Err(DomainError::not_found("agent").with_field("agentId"));
    }
    let ids: Vec<Uuid> = tools.iter().map(|id| id.uuid()).collect();
    let found = tool::Entity::find()
        .filter(tool::Column::AppId.eq(scope.uuid()))
        .filter(tool::Column::Id.is_in(ids.iter().copied()))
        .count(&txn)
        .await
        .map_err(db_error)?;
    if found != ids.len() as u64 {
        return Err(DomainError::not_found("tool").with_field("toolIds"));
    }
    if let Some(builtins) = builtins {
        agent::Entity::update_many()
            .col_expr(
                agent::Column::BuiltinTools,
                sea_orm::sea_query::Expr::value(BuiltinTool::store(builtins)),
            )
            .col_expr(
                agent::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(agent::Column::AppId.eq(scope.uuid()))
            .filter(agent::Column::Id.eq(agent.uuid()))
            .exec(&txn)
            .await
            .map_err(db_error)?;
    }
    agent_tool::Entity::delete_many()
        .filter(agent_tool::Column::AppId.eq(scope.uuid()))
        .filter(agent_tool::Column::AgentId.eq(agent.uuid()))
        .exec(&txn)
        .await
        .map_err(db_error)?;
    if !ids.is_empty() {
        agent_tool::Entity::insert_many(ids.into_iter().map(|tool_id| agent_tool::ActiveModel {
            agent_id: Set(agent.uuid()),
            tool_id: Set(tool_id),
            app_id: Set(scope.uuid()),
            added_at: Set(now),
        }))
        .exec(&txn)
        .await
        .map_err(db_error)?;
    }
    db.commit(txn).await
}

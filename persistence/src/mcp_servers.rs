//! An app's MCP servers and the tools kept from them. A look at a server
//! (done by the caller, over the network) is stored here in one
//! transaction: the server's status, and its tools brought in step with
//! the listing — new ones added, changed ones updated (keeping whether they
//! require approval and which agents have them), gone ones deleted. A
//! failed look changes only the status: the tools of the last good look
//! stay, so agents keep them while a server is briefly down.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use orbit_domain::entities::{mcp_server, tool};
use orbit_domain::ids::{AppScope, McpServerId, ToolId};
use orbit_domain::mcp::{LeftOut, Listing, ServerStatus};
use orbit_domain::tools::{StoredHeader, ToolKind};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;

use crate::error::is_unique_violation;
use crate::{Db, Page, PageArgs, db_error, keyset};

pub struct NewServer {
    pub id: McpServerId,
    pub name: String,
    pub url: String,
    pub headers: Vec<StoredHeader>,
}

fn name_taken(error: DbErr) -> DomainError {
    if is_unique_violation(&error) {
        DomainError::conflict("another MCP server of the app has this name").with_field("name")
    } else {
        db_error(error)
    }
}

/// Stores a new server with what the first look at it found.
#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    new: NewServer,
    listing: &Listing,
) -> DomainResult<mcp_server::Model> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let server = mcp_server::ActiveModel {
        id: Set(new.id.uuid()),
        app_id: Set(scope.uuid()),
        name: Set(new.name),
        url: Set(new.url),
        headers: Set(serde_json::to_value(&new.headers).map_err(DomainError::internal)?),
        status: Set(ServerStatus::Failed.as_str().to_owned()),
        last_error: Set(None),
        left_out: Set(json!([])),
        synced_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(name_taken)?;
    let server = record(&txn, server, now, listing).await?;
    db.commit(txn).await?;
    Ok(server)
}

/// Stores what a later look at `server` found.
#[orbit_macros::boxed]
pub async fn synced(
    db: &Db,
    server: mcp_server::Model,
    now: DateTime<Utc>,
    listing: &Listing,
) -> DomainResult<mcp_server::Model> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let server = record(&txn, server, now, listing).await?;
    db.commit(txn).await?;
    Ok(server)
}

async fn record(
    txn: &impl ConnectionTrait,
    server: mcp_server::Model,
    now: DateTime<Utc>,
    listing: &Listing,
) -> DomainResult<mcp_server::Model> {
    let mut active: mcp_server::ActiveModel = server.clone().into();
    active.updated_at = Set(now);
    match listing {
        Listing::Failed(why) => {
            active.status = Set(ServerStatus::Failed.as_str().to_owned());
            active.last_error = Set(Some(why.clone()));
        }
        Listing::Listed { tools, left_out } => {
            let mut left_out = left_out.clone();
            keep_in_step(txn, &server, now, tools, &mut left_out).await?;
            let left_out: Vec<_> = left_out
                .into_iter()
                .map(|left| json!({"name": left.server_name, "reason": left.reason}))
                .collect();
            active.status = Set(ServerStatus::Ready.as_str().to_owned());
            active.last_error = Set(None);
            active.left_out = Set(json!(left_out));
            active.synced_at = Set(Some(now));
        }
    }
    active.update(txn).await.map_err(db_error)
}

/// Brings the server's tool rows in step with `listed`. A listed tool whose
/// name another tool of the app already has is left out, not stored.
async fn keep_in_step(
    txn: &impl ConnectionTrait,
    server: &mcp_server::Model,
    now: DateTime<Utc>,
    listed: &[orbit_domain::mcp::ListedTool],
    left_out: &mut Vec<LeftOut>,
) -> DomainResult<()> {
    let mut kept: HashMap<String, tool::Model> = of_server(txn, server)
        .await?
        .into_iter()
        .filter_map(|row| row.mcp_tool_name.clone().map(|name| (name, row)))
        .collect();
    let names: Vec<&str> = listed.iter().map(|tool| tool.name.as_str()).collect();
    let taken: HashSet<String> = tool::Entity::find()
        .filter(tool::Column::AppId.eq(server.app_id))
        .filter(tool::Column::Name.is_in(names))
        .all(txn)
        .await
        .map_err(db_error)?
        .into_iter()
        .filter(|row| row.mcp_server_id != Some(server.id))
        .map(|row| row.name)
        .collect();
    for listed_tool in listed {
        if taken.contains(&listed_tool.name) {
            left_out.push(LeftOut {
                server_name: listed_tool.server_name.clone(),
                reason: format!("another tool of the app is named \"{}\"", listed_tool.name),
            });
            continue;
        }
        match kept.remove(&listed_tool.server_name) {
            Some(row) => {
                let unchanged = row.name == listed_tool.name
                    && row.description == listed_tool.description
                    && row.input_schema == listed_tool.input_schema;
                if unchanged {
                    continue;
                }
                let mut active: tool::ActiveModel = row.into();
                active.name = Set(listed_tool.name.clone());
                active.description = Set(listed_tool.description.clone());
                active.input_schema = Set(listed_tool.input_schema.clone());
                active.updated_at = Set(now);
                active.update(txn).await.map_err(db_error)?;
            }
            None => {
                tool::ActiveModel {
                    id: Set(ToolId::generate().uuid()),
                    app_id: Set(server.app_id),
                    name: Set(listed_tool.name.clone()),
                    description: Set(listed_tool.description.clone()),
                    input_schema: Set(listed_tool.input_schema.clone()),
                    kind: Set(ToolKind::Mcp.as_str().to_owned()),
                    http_url: Set(None),
                    http_method: Set(None),
                    http_headers: Set(None),
                    requires_approval: Set(false),
                    mcp_server_id: Set(Some(server.id)),
                    mcp_tool_name: Set(Some(listed_tool.server_name.clone())),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(txn)
                .await
                .map_err(db_error)?;
            }
        }
    }
    // What the server no longer lists: agents that had it lose it.
    let gone: Vec<_> = kept.into_values().map(|row| row.id).collect();
    if !gone.is_empty() {
        tool::Entity::delete_many()
            .filter(tool::Column::Id.is_in(gone))
            .exec(txn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

async fn of_server(
    conn: &impl ConnectionTrait,
    server: &mcp_server::Model,
) -> DomainResult<Vec<tool::Model>> {
    tool::Entity::find()
        .filter(tool::Column::AppId.eq(server.app_id))
        .filter(tool::Column::McpServerId.eq(server.id))
        .order_by_asc(tool::Column::Name)
        .all(conn)
        .await
        .map_err(db_error)
}

/// The tools kept from `server`, by name.
#[orbit_macros::boxed]
pub async fn tools_of(db: &Db, server: &mcp_server::Model) -> DomainResult<Vec<tool::Model>> {
    of_server(db.conn(), server).await
}

#[orbit_macros::boxed]
pub async fn find(
    db: &Db,
    scope: AppScope,
    id: McpServerId,
) -> DomainResult<Option<mcp_server::Model>> {
    mcp_server::Entity::find_by_id(id.uuid())
        .filter(mcp_server::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// The app's servers, oldest first.
#[orbit_macros::boxed]
pub async fn list(
    db: &Db,
    scope: AppScope,
    args: PageArgs,
) -> DomainResult<Page<mcp_server::Model>> {
    let select = mcp_server::Entity::find().filter(mcp_server::Column::AppId.eq(scope.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(mcp_server::Column::AppId),
        mcp_server::Column::Id,
        false,
        args,
    )
    .await
}

/// Deletes a server and its tools; agents that had them lose them.
#[orbit_macros::boxed]
pub async fn delete(db: &Db, scope: AppScope, id: McpServerId) -> DomainResult<()> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    tool::Entity::delete_many()
        .filter(tool::Column::AppId.eq(scope.uuid()))
        .filter(tool::Column::McpServerId.eq(id.uuid()))
        .exec(&txn)
        .await
        .map_err(db_error)?;
    let deleted = mcp_server::Entity::delete_many()
        .filter(mcp_server::Column::AppId.eq(scope.uuid()))
        .filter(mcp_server::Column::Id.eq(id.uuid()))
        .exec(&txn)
        .await
        .map_err(db_error)?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::not_found("MCP server").with_field("id"));
    }
    db.commit(txn).await
}

/// Servers of any app not looked at since `stale_before`, longest first:
/// the worker's periodic refresh.
#[orbit_macros::boxed]
pub async fn due(
    db: &Db,
    stale_before: DateTime<Utc>,
    limit: u64,
) -> DomainResult<Vec<mcp_server::Model>> {
    mcp_server::Entity::find()
        .filter(mcp_server::Column::UpdatedAt.lte(stale_before))
        .order_by_asc(mcp_server::Column::UpdatedAt)
        .limit(limit)
        .all(db.conn())
        .await
        .map_err(db_error)
}

/// Takes `server` for a refresh: `updated_at` moves to `now` only if no one
/// moved it since it was read, so of several processes that found it due,
/// one looks. The server as taken, or `None` when another process was first.
#[orbit_macros::boxed]
pub async fn take_for_refresh(
    db: &Db,
    server: &mcp_server::Model,
    now: DateTime<Utc>,
) -> DomainResult<Option<mcp_server::Model>> {
    let taken = mcp_server::Entity::update_many()
        .col_expr(
            mcp_server::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(mcp_server::Column::Id.eq(server.id))
        .filter(mcp_server::Column::UpdatedAt.eq(server.updated_at))
        .exec(db.conn())
        .await
        .map_err(db_error)?
        .rows_affected
        == 1;
    Ok(taken.then(|| mcp_server::Model {
        updated_at: now,
        ..server.clone()
    }))
}

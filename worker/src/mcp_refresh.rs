//! Keeps MCP servers' tools in step without anyone asking: every server
//! whose last look is older than `ORBIT_MCP_REFRESH_INTERVAL` is looked at
//! again (by one process: `take_for_refresh` is a compare-and-set on its
//! `updated_at`), and what the look finds is stored as `refreshMcpServer`
//! stores it. The loop wakes at the idle sweep and on `Wake::now`, so its
//! cost does not grow with traffic: one indexed query a sweep.

use orbit_domain::ids::{AppId, AppScope};
use orbit_domain::mcp::Listing;
use orbit_persistence::mcp_servers;
use tokio::sync::watch;

use crate::WorkerContext;
use crate::mcp::{Endpoint, look};

/// Servers looked at per sweep, one after another.
const PER_SWEEP: u64 = 16;

pub async fn run(ctx: WorkerContext, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Err(error) = refresh_due(&ctx).await {
            tracing::warn!(
                ?error,
                "refreshing MCP servers failed; trying at the next sweep"
            );
        }
        tokio::select! {
            () = tokio::time::sleep(ctx.wake.idle_sweep()) => {}
            () = ctx.wake.notified() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}

async fn refresh_due(ctx: &WorkerContext) -> orbit_domain::DomainResult<()> {
    let now = ctx.clock.now();
    let interval = chrono::Duration::from_std(ctx.tool_limits.mcp_refresh)
        .unwrap_or(chrono::Duration::minutes(10));
    for server in mcp_servers::due(&ctx.db, now - interval, PER_SWEEP).await? {
        let Some(server) = mcp_servers::take_for_refresh(&ctx.db, &server, now).await? else {
            continue;
        };
        let scope = AppScope::new(AppId(server.app_id));
        let vars = crate::vars::values(&ctx.db, ctx.sealer.as_ref(), scope).await?;
        let listing = match Endpoint::of(&server, ctx.sealer.as_ref(), &ctx.outbound, &vars) {
            Ok(endpoint) => look(&ctx.outbound, ctx.tool_limits, &server.name, endpoint).await,
            Err(why) => Listing::Failed(why),
        };
        if let Listing::Failed(why) = &listing {
            tracing::info!(server = %server.name, app = %scope.app_id(), %why, "an MCP server did not answer its refresh");
        }
        mcp_servers::synced(&ctx.db, server, ctx.clock.now(), &listing).await?;
    }
    Ok(())
}

//! What runs outside a request: agents' replies, the routine scheduler and
//! webhook deliveries. Work is found in the database (rows claimed with a
//! lease), never only in memory, so several `orbit` processes share it and a
//! crash loses nothing: another process takes the work over when the lease
//! ends.
//!
//! The worker knows no HTTP server, GraphQL or JWT (`api` starts it and hands
//! it what it needs), and takes the time from the [`Clock`], so tests move
//! time instead of sleeping.

pub mod agents;
pub mod events;
pub mod outbound;
pub mod routines;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use orbit_domain::{Clock, Sealer};
use orbit_persistence::Db;
use orbit_realtime::Broker;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// How often the loops look for due work when nothing wakes them.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What the worker's loops share.
#[derive(Clone)]
pub struct WorkerContext {
    pub db: Db,
    pub broker: Broker,
    pub clock: Arc<dyn Clock>,
    /// Opens app secrets (provider API keys, webhook signing secrets).
    pub sealer: Arc<dyn Sealer>,
    /// The HTTP client for URLs apps configure, with its address rule.
    pub outbound: outbound::Outbound,
    /// Names this process in the leases it takes, for logs and for telling
    /// its own leases from others'.
    pub process_id: String,
    pub wake: Wake,
    /// Publishes what subscribers see but nothing stores (reply deltas).
    pub events: Arc<dyn events::EphemeralEvents>,
}

/// Wakes the worker's loops to look for work at once: after a commit that
/// made work (a message in a thread with an agent, a routine run asked for)
/// and, in tests, after moving the clock.
#[derive(Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn now(&self) {
        self.0.notify_waiters();
    }

    /// Returns at the next [`Wake::now`]: work in progress listens for
    /// news about itself (a reply cancelled through this process).
    pub async fn notified(&self) {
        self.0.notified().await;
    }

    /// Returns when woken, or after [`POLL_INTERVAL`], or at shutdown
    /// (`false`: stop).
    pub async fn next(&self, shutdown: &mut watch::Receiver<bool>) -> bool {
        if *shutdown.borrow() {
            return false;
        }
        tokio::select! {
            () = self.0.notified() => true,
            () = tokio::time::sleep(POLL_INTERVAL) => true,
            changed = shutdown.changed() => changed.is_ok() && !*shutdown.borrow(),
        }
    }
}

/// Starts the worker's loops; they stop when `shutdown` turns true.
pub fn spawn(context: WorkerContext, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(agents::replies::run(context.clone(), shutdown.clone())),
        tokio::spawn(webhooks::run(context.clone(), shutdown.clone())),
        tokio::spawn(routines::run(context, shutdown)),
    ]
}

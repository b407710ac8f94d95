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
pub mod mcp;
pub mod mcp_refresh;
pub mod outbound;
pub mod routines;
pub mod tool_limits;
pub mod vars;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use orbit_domain::{Clock, Sealer};
use orbit_persistence::Db;
use orbit_persistence::queues::{Queue, QueueSet, WorkSignals};
use orbit_realtime::Broker;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// How often the loops look for due work when nothing wakes them, unless
/// the server sets another interval.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long a loop waits to claim again after a claim failed.
pub const CLAIM_RETRY: Duration = Duration::from_millis(200);

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
    /// How long an agent's tool call may take, and how much it may answer.
    pub tool_limits: agents::tools::ToolLimits,
}

/// Wakes the worker's loops. Each queue's loop wakes when a commit wrote
/// to its queue (in this process, or in another one that told this one
/// through the broker), and otherwise sweeps every [`Wake::idle_sweep`] for
/// what no signal announced: work come due (retries, schedules) and leases
/// a stopped process left. Tests call [`Wake::now`] after moving the clock.
#[derive(Clone)]
pub struct Wake {
    queues: Arc<WorkSignals>,
    /// News for work in progress (a reply cancelled through this process).
    news: Arc<Notify>,
    idle_sweep: Duration,
}

impl Wake {
    /// Wakes on `queues`' signals (the database handle's), sweeping every
    /// `idle_sweep` when none comes.
    pub fn new(queues: Arc<WorkSignals>, idle_sweep: Duration) -> Self {
        Self {
            queues,
            news: Arc::default(),
            idle_sweep,
        }
    }

    /// Every loop looks for work, and work in progress for news.
    pub fn now(&self) {
        self.news.notify_waiters();
        self.queues.wake_local(QueueSet::all());
    }

    /// `queue`'s loop looks for work (a slot of its came free).
    pub fn queue(&self, queue: Queue) {
        self.queues.wake_local(QueueSet::of(queue));
    }

    /// A claim failed (the database was busy or away): `queue`'s loop tries
    /// again after [`CLAIM_RETRY`] rather than at the next idle sweep, as
    /// the signal that announced the work was spent on the failed claim.
    pub fn retry_soon(&self, queue: Queue) {
        let queues = self.queues.clone();
        tokio::spawn(async move {
            tokio::time::sleep(CLAIM_RETRY).await;
            queues.wake_local(QueueSet::of(queue));
        });
    }

    /// Returns at the next [`Wake::now`]: work in progress listens for
    /// news about itself (a reply cancelled through this process).
    pub async fn notified(&self) {
        self.news.notified().await;
    }

    /// How long a loop waits for a signal before it sweeps anyway.
    pub fn idle_sweep(&self) -> Duration {
        self.idle_sweep
    }

    /// Returns when `queue` is written to, or after the idle sweep's
    /// interval, or at shutdown (`false`: stop).
    pub async fn next(&self, queue: Queue, shutdown: &mut watch::Receiver<bool>) -> bool {
        if *shutdown.borrow() {
            return false;
        }
        tokio::select! {
            () = self.queues.written_to(queue) => true,
            () = tokio::time::sleep(self.idle_sweep) => true,
            changed = shutdown.changed() => changed.is_ok() && !*shutdown.borrow(),
        }
    }
}

/// Starts the worker's loops; they stop when `shutdown` turns true.
pub fn spawn(context: WorkerContext, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(agents::replies::run(context.clone(), shutdown.clone())),
        tokio::spawn(webhooks::run(context.clone(), shutdown.clone())),
        tokio::spawn(mcp_refresh::run(context.clone(), shutdown.clone())),
        tokio::spawn(routines::run(context, shutdown)),
    ]
}

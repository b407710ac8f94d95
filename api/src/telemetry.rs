//! The operator's view: the Prometheus recorder behind `GET /metrics`, the
//! labels of GraphQL operations, and the gauges read at scrape time.
//!
//! Every crate records through the `metrics` facade (`metrics::counter!`
//! and friends); only this one installs a recorder. The recorder is global
//! to the process, so it is installed once however many servers a process
//! builds (the tests build one per test): they all report into it.
//! Metric names, types and labels are listed in docs/operations.md.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use metrics::SharedString;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::Services;

/// Latency buckets in seconds, for every `*_seconds` histogram: from a
/// query answered from memory to a request at its 30 s timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often histograms are folded and idle entries dropped. Without it a
/// server nobody scrapes would keep every observation since its start.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            // Only an embedding program that installed its own recorder
            // gets here; `/metrics` then shows nothing of ours.
            tracing::warn!("a metrics recorder was installed already; /metrics stays empty");
        }
        describe();
        let upkeep = handle.clone();
        // A thread, not a task: tests run many runtimes one after another,
        // and a task would die with the first.
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "orbit_graphql_operations_total",
        "GraphQL operations over HTTP, by type, operation name and outcome code"
    );
    describe_histogram!(
        "orbit_graphql_operation_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer one GraphQL operation over HTTP"
    );
    describe_counter!(
        "orbit_http_requests_total",
        "HTTP requests by route and status"
    );
    describe_histogram!(
        "orbit_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer one HTTP request, by route"
    );
    describe_gauge!("orbit_websocket_connections", "Open WebSocket connections");
    describe_gauge!("orbit_subscriptions", "Subscriptions listening to a feed");
    describe_counter!(
        "orbit_broker_published_total",
        "Messages handed to the broker, by broker and outcome"
    );
    describe_counter!(
        "orbit_broker_received_total",
        "Messages the broker delivered to this process, by broker"
    );
    describe_counter!(
        "orbit_relay_published_total",
        "Events the outbox relay published"
    );
    describe_histogram!(
        "orbit_relay_lag_seconds",
        metrics::Unit::Seconds,
        "From an event's commit to its publication by the relay"
    );
    describe_gauge!(
        "orbit_outbox_backlog",
        "Events committed and not yet published (read at scrape)"
    );
    describe_gauge!(
        "orbit_worker_queue_depth",
        "Work items queued or running, by queue and status (read at scrape)"
    );
    describe_counter!(
        "orbit_lease_takeovers_total",
        "Work items claimed after another claim's lease ran out, by queue"
    );
    describe_counter!(
        "orbit_webhook_deliveries_total",
        "Webhook delivery attempts by outcome"
    );
    describe_histogram!(
        "orbit_webhook_delivery_duration_seconds",
        metrics::Unit::Seconds,
        "Time of one webhook delivery attempt"
    );
    describe_counter!(
        "orbit_rate_limit_refusals_total",
        "Attempts refused by an abuse limit, by limit"
    );
    describe_gauge!(
        "orbit_db_pool_connections",
        "Database pool connections by state (read at scrape)"
    );
    describe_gauge!(
        "orbit_db_pool_max_connections",
        "The database pool's size limit"
    );
}

/// Renders the text exposition, after reading what is read at scrape:
/// queue depths, the outbox backlog and the pool. Those come from the
/// database so that every process reports the same deployment-wide depth,
/// and cost nothing on the request path.
pub async fn render(services: &Services) -> String {
    let db = services.db();
    let backlog = orbit_persistence::outbox::backlog(db).await;
    let depths = orbit_persistence::leases::depths(db).await;
    let pool = db.pool_status();
    // Setting the gauges and rendering them is one step: two servers in one
    // process (the tests) would otherwise show each other's depths.
    static RENDERING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _rendering = RENDERING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match backlog {
        Ok(backlog) => metrics::gauge!("orbit_outbox_backlog").set(backlog as f64),
        Err(error) => tracing::warn!(%error, "reading the outbox backlog for /metrics"),
    }
    match depths {
        Ok(depths) => {
            for depth in depths {
                metrics::gauge!(
                    "orbit_worker_queue_depth",
                    "queue" => depth.queue,
                    "status" => depth.status,
                )
                .set(depth.count as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "reading queue depths for /metrics"),
    }
    metrics::gauge!("orbit_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("orbit_db_pool_connections", "state" => "in_use")
        .set(f64::from(pool.size.saturating_sub(pool.idle)));
    metrics::gauge!("orbit_db_pool_max_connections").set(f64::from(pool.max));
    handle().render()
}

/// The exporter of spans to an OTLP/HTTP collector at `endpoint` (its base,
/// `http://collector:4318`; spans go to `/v1/traces`). Spans are sent in
/// batches from a thread of the exporter's own, so a slow or absent
/// collector never holds up a request; the batch is dropped when its queue
/// is full. The standard `OTEL_BSP_*` variables tune the batching.
pub fn otlp_tracer_provider(
    endpoint: &str,
) -> anyhow::Result<opentelemetry_sdk::trace::SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    let base = endpoint.trim_end_matches('/');
    let url = if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .build()?;
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("orbit")
                .build(),
        )
        .build())
}

/// Operation names become label values: only names a GraphQL name could
/// be, no longer than 64, and only the first [`MAX_OPERATION_NAMES`] a
/// process sees. Clients choose names, so without the cap one client
/// sending random ones would grow every scrape without end.
pub const MAX_OPERATION_NAMES: usize = 256;
/// The label of an operation without a name, or one past the rules above.
pub const ANONYMOUS: &str = "anonymous";
pub const OTHER: &str = "other";

static OPERATION_NAMES: Interned = Interned::new();
static ROUTES: Interned = Interned::new();

/// The label for `name`: the name itself once admitted (shared, not copied,
/// after the first time), else `anonymous` or `other`.
pub fn operation_label(name: Option<&str>) -> SharedString {
    match name.filter(|name| is_label_name(name)) {
        Some(name) => OPERATION_NAMES.get(name, MAX_OPERATION_NAMES),
        None => SharedString::const_str(ANONYMOUS),
    }
}

/// The label of a route pattern (`/graphql`, `/oauth/authorize/{provider}`):
/// the router has a fixed few, so after the first request of each this
/// copies nothing.
pub fn route_label(pattern: &str) -> SharedString {
    ROUTES.get(pattern, 64)
}

/// Label values kept once and handed out as shared strings.
struct Interned(OnceLock<RwLock<HashSet<Arc<str>>>>);

impl Interned {
    const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// `value`, or `other` once `cap` values are kept.
    fn get(&self, value: &str, cap: usize) -> SharedString {
        let values = self.0.get_or_init(Default::default);
        if let Ok(known) = values.read()
            && let Some(known) = known.get(value)
        {
            return SharedString::from(known.clone());
        }
        let Ok(mut known) = values.write() else {
            return SharedString::const_str(OTHER);
        };
        if let Some(existing) = known.get(value) {
            return SharedString::from(existing.clone());
        }
        if known.len() >= cap {
            return SharedString::const_str(OTHER);
        }
        let value: Arc<str> = Arc::from(value);
        known.insert(value.clone());
        SharedString::from(value)
    }
}

/// `[A-Za-z_][A-Za-z0-9_]{0,63}`.
fn is_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// A gauge held up while the guard lives: an open socket, a live
/// subscription. Dropping it (also when the task is aborted) takes it down.
pub(crate) struct GaugeGuard(metrics::Gauge);

impl GaugeGuard {
    pub(crate) fn new(gauge: metrics::Gauge) -> Self {
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded() {
        let label = |name: Option<&str>| operation_label(name).into_owned();
        assert_eq!(label(None), ANONYMOUS);
        assert_eq!(label(Some("")), ANONYMOUS);
        assert_eq!(label(Some("1abc")), ANONYMOUS);
        assert_eq!(label(Some("a-b")), ANONYMOUS);
        assert_eq!(label(Some(&"a".repeat(65))), ANONYMOUS);
        assert_eq!(label(Some(&"a".repeat(64))), "a".repeat(64));
        assert_eq!(label(Some("_Viewer1")), "_Viewer1");
        for n in 0..MAX_OPERATION_NAMES + 10 {
            label(Some(&format!("Op{n}")));
        }
        assert_eq!(label(Some("NeverSeenBefore")), OTHER);
        // Names admitted before the cap keep their label.
        assert_eq!(label(Some("_Viewer1")), "_Viewer1");
    }
}

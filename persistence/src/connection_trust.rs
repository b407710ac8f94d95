//! Which pooled Postgres connections need a ping before they are handed out.
//!
//! sqlx pings a connection on every checkout by default, and again when it
//! goes back to the pool; each ping is a round trip (a lone `Sync` and its
//! `ReadyForQuery`), so a request that checks out twice pays four of them —
//! about a third of a `sendMessage`'s writes to Postgres. The ping on return
//! stays (sqlx always does it); the one on checkout is kept only where it
//! can tell something:
//!
//! - a connection idle for [`TRUSTED_IDLE`] or more may have been dropped by
//!   the server, a proxy or the network since the server last answered it
//!   (the same rule as Go's `pgxpool`);
//! - a connection idle since before this process last saw the database out
//!   of reach may have been broken by that outage, however briefly it was
//!   idle: after the database comes back, such connections are tested, not
//!   handed to a request to fail.
//!
//! A connection broken in the last second before anything in this process
//! noticed is handed out once; its request answers `UNAVAILABLE` (retryable)
//! and the error marks every connection older than it for a ping.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A connection the server answered less than this long ago (its ping on
/// return to the pool) is handed out without another ping.
pub(crate) const TRUSTED_IDLE: Duration = Duration::from_secs(1);

/// When this process last saw the database out of reach. Process-wide, as
/// the errors are seen far from the pool: several pools in one process
/// (tests) at worst ping a little more after another's outage.
static PROCESS: LastUnreachable = LastUnreachable::new();

/// Records that the database was out of reach just now.
pub(crate) fn saw_unreachable() {
    PROCESS.record(Instant::now());
}

/// Whether a connection idle for `idle_for` must be pinged before use.
pub(crate) fn needs_ping(idle_for: Duration) -> bool {
    PROCESS.needs_ping(Instant::now(), idle_for)
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

/// The last moment the database was out of reach, in nanoseconds since
/// [`epoch`]; 0 for never.
struct LastUnreachable(AtomicU64);

impl LastUnreachable {
    const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    fn record(&self, at: Instant) {
        // Never 0, which means "never".
        self.0
            .fetch_max(nanos_since_epoch(at).max(1), Ordering::Relaxed);
    }

    fn needs_ping(&self, now: Instant, idle_for: Duration) -> bool {
        if idle_for >= TRUSTED_IDLE {
            return true;
        }
        let last_unreachable = self.0.load(Ordering::Relaxed);
        if last_unreachable == 0 {
            return false;
        }
        let answered_at = now.checked_sub(idle_for).unwrap_or(now);
        nanos_since_epoch(answered_at) <= last_unreachable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_outage_a_connection_is_trusted_for_a_second() {
        let last = LastUnreachable::new();
        let now = epoch() + Duration::from_secs(60);
        assert!(!last.needs_ping(now, Duration::from_millis(999)));
        assert!(last.needs_ping(now, TRUSTED_IDLE));
    }

    #[test]
    fn a_connection_answered_after_the_last_outage_is_trusted_for_a_second() {
        let last = LastUnreachable::new();
        let now = epoch() + Duration::from_secs(3_600);
        last.record(now - Duration::from_secs(60));
        assert!(!last.needs_ping(now, Duration::from_millis(10)));
        assert!(!last.needs_ping(now, Duration::from_millis(999)));
        assert!(last.needs_ping(now, TRUSTED_IDLE));
        assert!(last.needs_ping(now, Duration::from_secs(30)));
    }

    #[test]
    fn a_connection_idle_since_before_an_outage_is_pinged_however_briefly() {
        let last = LastUnreachable::new();
        let now = epoch() + Duration::from_secs(7_200);
        last.record(now - Duration::from_millis(100));
        assert!(last.needs_ping(now, Duration::from_millis(200)));
        assert!(last.needs_ping(now, Duration::from_millis(100)));
        assert!(!last.needs_ping(now, Duration::from_millis(50)));
    }
}

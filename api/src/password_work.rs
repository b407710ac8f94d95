//! argon2 takes tens of milliseconds of a core per password, by design. A
//! storm of logins would otherwise take every core, and every other request
//! would wait behind it. So password work runs on at most a fixed number of
//! blocking threads (by default half the cores), with a short queue behind
//! them; past the queue, a request is answered at once with `UNAVAILABLE`
//! and `Retry-After` instead of waiting its turn, so the storm cannot grow
//! a backlog that holds connections and memory either.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use orbit_domain::{DomainError, DomainResult};
use tokio::sync::Semaphore;

/// Seconds a refused password operation suggests waiting.
const BUSY_RETRY_AFTER_SECS: i64 = 1;

pub struct PasswordWork {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

/// Counts a waiter for as long as it waits, even when its request is dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordWork {
    /// At most `threads` at once (at least one), and at most `queue` waiting.
    pub fn new(threads: usize, queue: usize) -> Self {
        Self {
            running: Arc::new(Semaphore::new(threads.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
        }
    }

    /// Half the cores, at least one: the other half keeps serving everyone else.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map(|cores| (cores.get() / 2).max(1))
            .unwrap_or(1)
    }

    /// Runs `work` (hashing or verifying a password) on a blocking thread
    /// when one of the allowed is free; `UNAVAILABLE` at once when the queue
    /// is full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> DomainResult<T> {
        let permit = match self.running.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(busy());
                }
                let waiting = Waiting(&self.waiting);
                let permit = self
                    .running
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(DomainError::internal)?;
                drop(waiting);
                permit
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(DomainError::internal)
    }
}

fn busy() -> DomainError {
    let mut error = DomainError::unavailable("password work queue full");
    error.message = "too many sign-ins at once: try again in a second".to_owned();
    error.with_retry_after(BUSY_RETRY_AFTER_SECS)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_work_is_refused_at_once() {
        let work = Arc::new(PasswordWork::new(1, 2));
        let release = Arc::new(Barrier::new(2));
        // One runs (held until released), two wait, the fourth is refused.
        let running = {
            let work = work.clone();
            let release = release.clone();
            tokio::spawn(async move { work.run(move || release.wait()).await })
        };
        while work.running.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let waiters: Vec<_> = (0..2)
            .map(|n| {
                let work = work.clone();
                tokio::spawn(async move { work.run(move || n).await })
            })
            .collect();
        while work.waiting.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        let refused = work.run(|| ()).await.unwrap_err();
        assert_eq!(refused.code, orbit_domain::ErrorCode::Unavailable);
        assert_eq!(refused.retry_after, Some(BUSY_RETRY_AFTER_SECS));
        release.wait();
        running.await.unwrap().unwrap();
        for waiter in waiters {
            waiter.await.unwrap().unwrap();
        }
        assert_eq!(work.waiting.load(Ordering::Acquire), 0);
        // Room again.
        assert_eq!(work.run(|| 7).await.unwrap(), 7);
    }
}

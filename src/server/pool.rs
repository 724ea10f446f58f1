//! The threads that compute reviews: a fixed set, fed from one queue.
//!
//! Tokio's blocking pool behind a semaphore (what this replaced) put its thread to sleep after
//! every review and woke it for the next one, since the next review was queued only once the
//! semaphore had told an async thread: two context switches a review, about 8 % of the
//! server's CPU under load (`perf`, 64 clients). Here a thread that finishes a review takes
//! the next one from the queue without sleeping while there is one.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};

use super::error::ApiError;

/// One review to compute; it sends its own answer.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads that take jobs from one queue in turn; they end when the pool is
/// dropped and the queue is empty.
pub struct ReviewPool {
    jobs: mpsc::Sender<Job>,
    /// Threads that started.
    threads: usize,
}

impl ReviewPool {
    /// A pool of `threads` threads (at least one), named `oscar-review-N`.
    pub fn new(threads: usize) -> ReviewPool {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let threads = (0..threads.max(1))
            .filter(|n| {
                let queue = Arc::clone(&queue);
                let started = std::thread::Builder::new().name(format!("oscar-review-{n}")).spawn(move || work(&queue));
                if let Err(e) = &started {
                    tracing::error!(error = %e, "cannot start a review thread");
                }
                started.is_ok()
            })
            .count();
        ReviewPool { jobs, threads }
    }

    /// `review`'s result, computed on one of the pool's threads. A caller that stops waiting
    /// (a request timed out or its connection closed) before a thread takes its job is never
    /// computed.
    pub async fn run<T: Send + 'static>(&self, review: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        if self.threads == 0 {
            return Err(ApiError::Internal("no review thread could be started".into()));
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if !answer.is_closed() {
                let _ = answer.send(review());
            }
        });
        self.jobs.send(job).map_err(|_| ApiError::Internal("the review threads have stopped".into()))?;
        answered.await.map_err(|_| ApiError::Internal("a review ended without an answer".into()))
    }
}

/// A pool thread: jobs one after the other until the queue is closed.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for a job, never while one runs.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A panic is a bug; it answers its own request with a 500 (the answer is dropped)
        // and must not take the thread, and with the last one every later review, with it.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn computes_on_its_own_threads_at_most_that_many_at_once() {
        let pool = Arc::new(ReviewPool::new(2));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let (pool, running, most) = (Arc::clone(&pool), Arc::clone(&running), Arc::clone(&most));
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        (i, std::thread::current().name().map(str::to_string))
                    })
                    .await
                })
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            let (n, thread) = call.await.unwrap().unwrap();
            assert_eq!(n, i);
            assert!(thread.unwrap().starts_with("oscar-review-"));
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_whose_caller_left_is_not_computed() {
        let pool = ReviewPool::new(1);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // The one thread is busy until `tx` sends; meanwhile a second caller gives up.
        let busy = pool.run(move || rx.recv().unwrap());
        let computed = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&computed);
        let gave_up = tokio::time::timeout(Duration::from_millis(50), async {
            tokio::join!(busy, pool.run(move || counted.fetch_add(1, Ordering::SeqCst)))
        })
        .await;
        assert!(gave_up.is_err());
        tx.send(()).unwrap();
        // A later job runs after the abandoned one would have.
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        assert_eq!(computed.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_job_is_an_internal_error_and_the_thread_goes_on() {
        let pool = ReviewPool::new(1);
        let failed = pool.run(|| -> u8 { panic!("a bug") }).await;
        assert!(matches!(failed, Err(ApiError::Internal(_))));
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}

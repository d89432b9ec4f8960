//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), always off the async threads.

use anyhow::Context;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, LazyLock, Mutex, mpsc};

/// The shortest password accepted anywhere in the portal.
pub const MIN_LENGTH: usize = 12;
/// The longest password accepted (in bytes): argon2 of megabytes of input is work nobody needs to do.
pub const MAX_BYTES: usize = 1024;
/// How many hashes may wait for a hashing thread; more are refused at once ([`Busy`]) rather than queued.
pub const MAX_WAITING: usize = 16;

/// Every hashing thread is busy and the queue is full: try again shortly (a 429, not a 500).
#[derive(Debug, thiserror::Error)]
#[error("the password hashing queue is full")]
pub struct Busy;

/// Hashes queued or running.
static IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts one queued hash until dropped (after it ran, or when it is skipped).
struct Slot;

impl Slot {
    fn take() -> Option<Self> {
        use std::sync::atomic::Ordering;
        let limit = MAX_WAITING + HASHING_THREADS;
        IN_FLIGHT
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// How many threads hash at once.
const HASHING_THREADS: usize = 2;

type Task = Box<dyn FnOnce() + Send>;

/// A few dedicated threads for argon2. Each hash takes 19 MiB; on tokio's blocking pool every new thread would get
/// its own allocator arena that keeps those 19 MiB after the hash (measured: 16 sign-ins left 250 MiB resident),
/// so the memory cost would grow with the number of threads ever used. `None` when no thread could be started.
static HASHING: LazyLock<Option<mpsc::Sender<Task>>> = LazyLock::new(|| {
    let (sender, receiver) = mpsc::channel::<Task>();
    let receiver = Arc::new(Mutex::new(receiver));
    let mut started = 0;
    for index in 0..HASHING_THREADS {
        let receiver = Arc::clone(&receiver);
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{index}"))
            .spawn(move || {
                loop {
                    let next = match receiver.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    match next {
                        // A panicking hash must not take the thread with it: its caller sees the oneshot
                        // dropped (an error), and the next sign-in still has a thread.
                        Ok(task) => {
                            let _survived =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
                        }
                        Err(_) => return,
                    }
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(error) => tracing::warn!(error = %error, "cannot start a hashing thread"),
        }
    }
    (started > 0).then_some(sender)
});

/// Runs `work` on a hashing thread (or, if none could start, on the blocking pool). Fails at once with [`Busy`]
/// when `MAX_WAITING` hashes already wait; skips the work when the caller went away before its turn.
async fn off_the_async_threads<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let slot = Slot::take().ok_or(Busy)?;
    let Some(sender) = HASHING.as_ref() else {
        let _slot = slot;
        return tokio::task::spawn_blocking(work)
            .await
            .context("the hashing task stopped");
    };
    let (done, result) = tokio::sync::oneshot::channel();
    sender
        .send(Box::new(move || {
            let _slot = slot;
            // The caller went away (a closed connection) while this waited: nobody to do it for.
            if done.is_closed() {
                return;
            }
            let _unheard = done.send(work());
        }))
        .map_err(|_| anyhow::anyhow!("the hashing threads stopped"))?;
    result.await.context("the hashing thread stopped")
}

/// Hashes off the async threads: about 20 ms of CPU that must not stall other requests.
pub async fn hash(password: String) -> anyhow::Result<String> {
    off_the_async_threads(move || {
        hasher()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| anyhow::anyhow!("argon2 failed: {error}"))
    })
    .await?
}

/// True when `password` matches the stored PHC string; false for a mismatch or an unreadable hash.
pub async fn verify(password: String, stored: String) -> anyhow::Result<bool> {
    off_the_async_threads(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queue is shared by the whole process: the test that fills it runs alone.
    static QUEUE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let _alone = QUEUE.lock().await;
        let stored = hash("correct horse battery".to_owned()).await.unwrap();
        let attempts: Vec<_> = (0..(MAX_WAITING + HASHING_THREADS) * 3)
            .map(|_| tokio::spawn(verify("wrong horse battery".to_owned(), stored.clone())))
            .collect();
        let mut busy = 0;
        let mut checked = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(matches) => {
                    assert!(!matches);
                    checked += 1;
                }
                Err(error) => {
                    assert!(error.is::<Busy>(), "{error:#}");
                    busy += 1;
                }
            }
        }
        assert!(busy > 0, "some attempts are refused");
        assert!(checked >= HASHING_THREADS, "the queue still works");
        assert!(
            verify("correct horse battery".to_owned(), stored)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let _alone = QUEUE.lock().await;
        let first = hash("correct horse battery".to_owned()).await.unwrap();
        let second = hash("correct horse battery".to_owned()).await.unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(
            verify("correct horse battery".to_owned(), first.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".to_owned(), first)
                .await
                .unwrap()
        );
        assert!(
            !verify("x".to_owned(), "not a hash".to_owned())
                .await
                .unwrap()
        );
    }
}

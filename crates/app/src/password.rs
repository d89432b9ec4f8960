//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), always off the async threads.

use anyhow::Context;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, LazyLock, Mutex, mpsc};

/// The shortest password accepted anywhere in the portal.
pub const MIN_LENGTH: usize = 12;

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

/// Runs `work` on a hashing thread (or, if none could start, on the blocking pool).
async fn off_the_async_threads<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let Some(sender) = HASHING.as_ref() else {
        return tokio::task::spawn_blocking(work)
            .await
            .context("the hashing task stopped");
    };
    let (done, result) = tokio::sync::oneshot::channel();
    sender
        .send(Box::new(move || {
            // The caller may have gone away (a closed connection): nobody to tell.
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

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
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

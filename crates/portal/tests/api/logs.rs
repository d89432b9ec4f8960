//! What the application logs at `info` and above, as its console would print it (compact format, span fields
//! included), captured while a test asks for it. Installed into the global subscriber by
//! `roundtrips::counter::install`, the one place that builds it.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::registry::LookupSpan;

static CAPTURING: AtomicUsize = AtomicUsize::new(0);
static CAPTURED: LazyLock<Mutex<Vec<u8>>> = LazyLock::new(Mutex::default);

/// The layer: the portal's own targets at `info`, written only while a [`Capture`] is alive.
pub fn layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .compact()
        .with_ansi(false)
        .with_target(true)
        .with_writer(Sink)
        .with_filter(
            Targets::new()
                .with_target("portal_web", tracing::Level::INFO)
                .with_target("portal_app", tracing::Level::INFO)
                .with_target("portal", tracing::Level::INFO),
        )
}

#[derive(Clone, Copy)]
struct Sink;

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if CAPTURING.load(Ordering::SeqCst) > 0 {
            CAPTURED
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Sink;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Captures log lines while alive (other tests running at the same time may add theirs: look for your own).
pub struct Capture(());

impl Capture {
    pub fn start() -> Self {
        crate::roundtrips::counter::install();
        CAPTURING.fetch_add(1, Ordering::SeqCst);
        Capture(())
    }

    /// Everything written since the first capture started.
    pub fn text(&self) -> String {
        let bytes = CAPTURED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURING.fetch_sub(1, Ordering::SeqCst);
    }
}

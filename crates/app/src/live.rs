//! Live updates: when an invoice's status changes, open pages of its tenant hear of it (server-sent events), on
//! every node.
//!
//! `publish` delivers to this process's listeners at once and hands the event to the [`Bus`], which tells the
//! other nodes sharing the database (PostgreSQL `NOTIFY` on `portal_live`, sent after the publisher's commit by a
//! background task; nothing on SQLite, where one process owns the file). A forwarding task turns what the other
//! nodes publish into the same in-process events, so the SSE routes see one channel whatever the deployment.

use portal_domain::ids::{InvoiceId, TenantId};
use portal_persistence::bus::{Bus, BusSignal, LIVE_CHANNEL};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub tenant: TenantId,
    pub invoice: InvoiceId,
    /// The new headline status code, if any.
    pub headline: Option<u16>,
}

/// A live event as it travels between nodes: one line of small JSON (about 100 bytes).
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    t: TenantId,
    i: InvoiceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    h: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct LiveUpdates {
    sender: broadcast::Sender<LiveEvent>,
    bus: Bus,
}

impl Default for LiveUpdates {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveUpdates {
    /// In-process only.
    pub fn new() -> Self {
        Self::over(Bus::local())
    }

    /// Across the nodes `bus` reaches (on a shared bus, a task of the caller's tokio runtime forwards the other
    /// nodes' events).
    pub fn over(bus: Bus) -> Self {
        let (sender, _) = broadcast::channel(1024);
        if bus.is_shared() {
            tokio::spawn(forward(bus.subscribe(), sender.downgrade()));
        }
        Self { sender, bus }
    }

    /// Tells every listener, on this node and the others; nobody listening is fine. Call it after the change
    /// committed.
    pub fn publish(&self, event: LiveEvent) {
        if self.bus.is_shared() {
            let wire = Wire {
                t: event.tenant,
                i: event.invoice,
                h: event.headline,
            };
            match serde_json::to_string(&wire) {
                Ok(payload) => self.bus.publish(LIVE_CHANNEL, payload),
                Err(error) => tracing::warn!(%error, "live event not sent to the other nodes"),
            }
        }
        let _listeners = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }
}

/// The other nodes' events, delivered here.
async fn forward(
    mut signals: broadcast::Receiver<BusSignal>,
    sender: broadcast::WeakSender<LiveEvent>,
) {
    use broadcast::error::RecvError;
    loop {
        let signal = signals.recv().await;
        let Some(sender) = sender.upgrade() else {
            return;
        };
        match signal {
            Ok(BusSignal::Message { channel, payload }) if channel == LIVE_CHANNEL => {
                match serde_json::from_str::<Wire>(&payload) {
                    Ok(wire) => {
                        let _listeners = sender.send(LiveEvent {
                            tenant: wire.t,
                            invoice: wire.i,
                            headline: wire.h,
                        });
                    }
                    Err(error) => tracing::warn!(%error, "unreadable live event from another node"),
                }
            }
            // Events sent while the bus was down are lost: open pages see them at their next reload.
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "live events from other nodes missed");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

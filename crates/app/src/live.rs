//! Live updates: when an invoice's status changes, open pages of its tenant hear of it (server-sent events).
//!
//! In-process only: each node tells the browsers connected to it. With several web nodes, a page connected to
//! another node than the one that processed the status sees it at its next reload or poll.

use portal_domain::ids::{InvoiceId, TenantId};
use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub tenant: TenantId,
    pub invoice: InvoiceId,
    /// The new headline status code, if any.
    pub headline: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct LiveUpdates {
    sender: broadcast::Sender<LiveEvent>,
}

impl Default for LiveUpdates {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveUpdates {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(1024);
        Self { sender }
    }

    /// Tells every listener; nobody listening is fine.
    pub fn publish(&self, event: LiveEvent) {
        let _listeners = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }
}

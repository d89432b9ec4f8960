//! Database access for the portal: connection and migrations, sea-orm entities, tenant-scoped repositories and
//! the durable job queue. Uses the domain crate, never the Billit or web crates, and no HTTP types.

pub mod answers;
pub mod api;
pub mod audit;
pub mod auth_cache;
pub mod billit_connections;
pub mod bus;
pub mod counts;
pub mod customers;
pub mod db;
pub mod directory;
pub mod entities;
pub mod firm;
pub mod firm_console;
pub mod firm_inbox;
pub mod invitations;
pub mod invoices;
pub mod jobs;
pub mod notifications;
pub mod outbox;
pub mod outgoing_webhooks;
pub mod payments;
pub mod reminders;
pub mod scope;
mod search;
pub mod seed;
pub mod sessions;
pub mod settlements;
pub mod status_batch;
pub mod tenants;
mod text;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod webhook_deliveries;

#[cfg(feature = "test-support")]
pub mod testing;

pub use db::{DatabaseTarget, Db, PoolSettings};
pub use scope::{TenantRole, TenantScope};
pub use sea_orm::DbErr;

//! sea-orm entities: the rows as stored. They never leave this crate's repositories' signatures as inputs filled
//! from forms; callers pass domain values and get records back.

pub mod answer_templates;
pub mod api_idempotency;
pub mod api_tokens;
pub mod audit_log;
pub mod billit_connections;
pub mod billit_health;
pub mod billit_sync;
pub mod customers;
pub mod directory_checks;
pub mod firm_portfolios;
pub mod firm_staff;
pub mod firm_visits;
pub mod invitations;
pub mod invoice_emails;
pub mod invoice_events;
pub mod invoice_sequences;
pub mod invoice_settings;
pub mod invoices;
pub mod jobs;
pub mod login_throttle;
pub mod memberships;
pub mod outbox;
pub mod outbox_attachments;
pub mod password_resets;
pub mod payments;
pub mod reminder_settings;
pub mod reminder_templates;
pub mod reminders;
pub mod sessions;
pub mod tenants;
pub mod users;
pub mod webhook_attempts;
pub mod webhook_deliveries;
pub mod webhook_endpoints;
pub mod webhook_messages;

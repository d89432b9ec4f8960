//! Outgoing webhooks: the company admins' settings pages for the endpoints of their own systems (register, the
//! secret shown once, the delivery log with "send again", resume a paused endpoint, remove).

pub mod routes;

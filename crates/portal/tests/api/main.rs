//! In-process HTTP tests: each test builds the whole application on its own database and a free port.

#[cfg(test)]
mod accounts;
#[cfg(test)]
mod actions;
#[cfg(test)]
mod answers;
#[cfg(test)]
mod api_v1;
#[cfg(test)]
mod billit_calls;
#[cfg(test)]
mod console;
#[cfg(test)]
mod customers;
#[cfg(test)]
mod editor;
#[cfg(test)]
mod firm;
#[cfg(test)]
mod helpers;
#[cfg(test)]
mod inbox;
#[cfg(test)]
mod ingest;
#[cfg(test)]
mod live_rows;
#[cfg(test)]
mod logs;
#[cfg(test)]
mod outbox;
#[cfg(test)]
mod outgoing;
#[cfg(test)]
mod pages;
#[cfg(test)]
mod payments;
#[cfg(test)]
mod recount;
#[cfg(test)]
mod reminders;
#[cfg(test)]
mod roundtrips;
#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod search;
#[cfg(test)]
mod security;
#[cfg(test)]
mod settlements;
#[cfg(test)]
mod smtp;
#[cfg(test)]
mod spreadsheets;
#[cfg(test)]
mod statuses;
#[cfg(test)]
mod views;
#[cfg(test)]
mod workers;

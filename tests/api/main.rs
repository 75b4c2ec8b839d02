//! API tests against the real Redis and Postgres (`scripts/services.sh up`).

mod auth;
mod autosave;
mod bad_input;
mod drafts;
mod helpers;
mod isolation;
mod materialize;
mod service;
mod uploads;

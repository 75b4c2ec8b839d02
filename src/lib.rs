//! draftd keeps a web form's half-written data in Redis and writes to Postgres
//! only when the data becomes real.
//!
//! The layers, each using only those below it:
//!
//! - [`http`]: routes, authentication, the OpenAPI document, problem responses
//!   (the only place errors become HTTP); uses [`app`];
//! - [`app`]: the use cases (drafts, courses, admin); uses [`jobs`] and [`stores`];
//! - [`jobs`]: the janitor, the purge, the orphan sweep, the erase and the job
//!   queue (cleanup steps, webhook deliveries); uses [`stores`];
//! - [`stores`]: Redis, Postgres and file storage; implement [`domain`]'s traits;
//! - [`domain`]: pure types and rules, the outcomes and traits the stores speak.
//!
//! [`startup`] wires concrete types together (nothing imports it);
//! [`config`] and [`telemetry`] are read at start.

pub mod app;
pub mod config;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod startup;
pub mod stores;
pub mod telemetry;

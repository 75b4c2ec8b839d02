//! draftd keeps a web form's half-written data in Redis and writes to Postgres
//! only when the data becomes real.
//!
//! - [`http`]: routes, authentication, problem responses (the only place errors
//!   become HTTP);
//! - [`domain`]: draft sessions and the form, validated on parse;
//! - [`stores`]: Redis draft sessions, Postgres courses and the cleanup
//!   queue, file storage;
//! - [`jobs`]: the janitor, the orphan sweep and the cleanup worker;
//! - [`config`], [`telemetry`], [`startup`]: wiring.

pub mod config;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod startup;
pub mod stores;
pub mod telemetry;

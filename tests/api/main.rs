//! API tests against the real Redis and Postgres (`scripts/services.sh up`).

mod auth;
mod autosave;
mod bad_input;
mod cleanup;
mod cluster;
mod content;
mod drafts;
mod faults;
mod fixtures;
mod helpers;
mod hygiene;
mod isolation;
mod janitor;
mod limits;
mod materialize;
mod ownership;
mod protocol;
mod proxy;
mod servers;
mod service;
mod steps;
mod tls;
mod trash;
mod uploads;

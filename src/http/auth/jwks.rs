//! The identity provider's key set, fetched over HTTP(S) and kept in memory.
//!
//! One task fetches it: at start, then again after its `Cache-Control:
//! max-age` or `DRAFTD_JWKS_REFRESH_SECS`, whichever is shorter (never more
//! often than `DRAFTD_JWKS_MIN_REFRESH_SECS`), and when a token names a key
//! the set lacks (a rotation), at most once per minimum interval. Requests
//! never fetch: a request whose token names an unknown key asks the task and
//! waits for the fetch in flight (single flight), at most
//! `DRAFTD_JWKS_FETCH_TIMEOUT_MS`. A failed fetch keeps the last good set, is
//! logged and counted, and is retried after the minimum interval.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use reqwest::header::{ACCEPT, CACHE_CONTROL};
use reqwest::{redirect, StatusCode, Url};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::keys::{KeySet, SetError, VerifyingKey};
use crate::config::identity::is_trusted_key_source;

/// The largest key set read: a provider publishes a handful of keys.
const MAX_SET_BYTES: usize = 256 * 1024;

/// The longest one fetch may take; a request waits for it only
/// `DRAFTD_JWKS_FETCH_TIMEOUT_MS`.
const FETCH_DEADLINE: Duration = Duration::from_secs(10);

pub struct JwksSettings {
    pub url: Url,
    pub refresh: Duration,
    pub min_refresh: Duration,
    pub fetch_timeout: Duration,
    /// PEM CA certificates to trust besides the system's (DRAFTD_TLS_CA_FILE).
    pub tls_roots: Option<Vec<u8>>,
}

/// What made a fetch happen: a label of `draftd_jwks_fetches_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Schedule,
    UnknownKid,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::UnknownKid => "unknown_kid",
        }
    }
}

#[derive(Default)]
struct FetchState {
    /// A fetch is asked for or running; whoever needs a key waits for it.
    in_flight: Option<Trigger>,
    last_started: Option<Instant>,
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("the key set could not be fetched: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the key set's URL answered {0}")]
    Status(StatusCode),
    #[error("the key set is over {MAX_SET_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Set(#[from] SetError),
}

pub struct KeySource {
    settings: JwksSettings,
    client: reqwest::Client,
    current: RwLock<Option<Arc<KeySet>>>,
    fetch: Mutex<FetchState>,
    wake: Notify,
    /// Counts finished fetches, good or not: waiters look again after each.
    finished: watch::Sender<u64>,
}

impl KeySource {
    pub fn new(settings: JwksSettings) -> anyhow::Result<Arc<Self>> {
        let mut client = reqwest::Client::builder()
            .timeout(FETCH_DEADLINE.max(settings.fetch_timeout))
            .connect_timeout(FETCH_DEADLINE.max(settings.fetch_timeout))
            .redirect(redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("more than 5 redirects")
                } else if is_trusted_key_source(attempt.url()) {
                    attempt.follow()
                } else {
                    attempt.error("a redirect to plain http")
                }
            }))
            .user_agent(concat!("draftd/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &settings.tls_roots {
            client = client.tls_certs_merge(reqwest::Certificate::from_pem_bundle(pem)?);
        }
        for trigger in [Trigger::Schedule, Trigger::UnknownKid] {
            for outcome in ["ok", "failed"] {
                metrics::counter!("draftd_jwks_fetches_total",
                    "trigger" => trigger.as_str(), "outcome" => outcome)
                .increment(0);
            }
        }
        Ok(Arc::new(Self {
            client: client.build()?,
            settings,
            current: RwLock::new(None),
            fetch: Mutex::new(FetchState::default()),
            wake: Notify::new(),
            finished: watch::Sender::new(0),
        }))
    }

    /// Whether a key set is loaded: readiness is down until the first fetch
    /// succeeds, and up from then on (a failed fetch keeps the last good set).
    pub fn is_ready(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// The key `kid` of the set in memory.
    pub fn key(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|set| set.get(kid).cloned())
    }

    /// Whether the set in memory has a key `kid`.
    pub fn knows(&self, kid: &str) -> bool {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|set| set.contains(kid))
    }

    /// The key `kid`, after the fetch that is in flight, or one started now
    /// if the last began at least the minimum interval ago; waits at most
    /// the fetch timeout.
    pub async fn refetch_for(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        let mut finished = self.finished.subscribe();
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        let wait = {
            let mut state = self.fetch.lock().unwrap_or_else(PoisonError::into_inner);
            if state.in_flight.is_some() {
                true
            } else if state
                .last_started
                .is_none_or(|at| at.elapsed() >= self.settings.min_refresh)
            {
                state.in_flight = Some(Trigger::UnknownKid);
                state.last_started = Some(Instant::now());
                self.wake.notify_one();
                true
            } else {
                false
            }
        };
        if wait {
            let _ = tokio::time::timeout(self.settings.fetch_timeout, finished.changed()).await;
        }
        self.key(kid)
    }

    /// Fetches the set now and then whenever it is due or asked for; runs
    /// until its task is dropped.
    pub async fn run(self: Arc<Self>) {
        let mut due = Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(due) => {
                    let mut state = self.fetch.lock().unwrap_or_else(PoisonError::into_inner);
                    if state.in_flight.is_none() {
                        state.in_flight = Some(Trigger::Schedule);
                        state.last_started = Some(Instant::now());
                    }
                }
                () = self.wake.notified() => {}
            }
            let trigger = self
                .fetch
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .in_flight;
            // A wake-up left over from a fetch the schedule already made.
            let Some(trigger) = trigger else { continue };
            let outcome = self.fetch_once().await;
            let outcome_label = if outcome.is_ok() { "ok" } else { "failed" };
            metrics::counter!("draftd_jwks_fetches_total",
                "trigger" => trigger.as_str(), "outcome" => outcome_label)
            .increment(1);
            due = Instant::now()
                + match outcome {
                    Ok(max_age) => self.next_refresh(max_age),
                    Err(error) => {
                        tracing::warn!(
                            url = %self.settings.url, trigger = trigger.as_str(), %error,
                            kept_last_good_set = self.is_ready(),
                            "the identity provider's key set could not be fetched"
                        );
                        self.settings.min_refresh
                    }
                };
            self.fetch
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .in_flight = None;
            self.finished.send_modify(|count| *count += 1);
        }
    }

    /// The answer's max-age when shorter than the refresh period, never
    /// under the minimum interval.
    fn next_refresh(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .map_or(self.settings.refresh, |age| age.min(self.settings.refresh))
            .max(self.settings.min_refresh)
    }

    /// One fetch: the set replaces the one in memory if it parses and has a
    /// usable key. Answers the set's max-age.
    async fn fetch_once(&self) -> Result<Option<Duration>, FetchError> {
        let mut response = self
            .client
            .get(self.settings.url.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status()));
        }
        let max_age = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age);
        if response
            .content_length()
            .is_some_and(|length| length > MAX_SET_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_SET_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let (set, skipped) = KeySet::parse(&body)?;
        let kids = set.kids().join(",");
        let changed = {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            current
                .as_ref()
                .is_none_or(|old| old.kids().join(",") != kids)
        };
        if changed {
            let skipped: Vec<String> = skipped
                .iter()
                .map(|(kid, why)| {
                    format!("{}: {}", kid.as_deref().unwrap_or("(no kid)"), why.as_str())
                })
                .collect();
            tracing::info!(url = %self.settings.url, kids, ?skipped, "identity provider key set loaded");
        }
        metrics::gauge!("draftd_jwks_keys").set(set.len() as f64);
        metrics::gauge!("draftd_jwks_last_success_timestamp_seconds")
            .set(chrono::Utc::now().timestamp() as f64);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(set));
        Ok(max_age)
    }
}

/// The `max-age` of a `Cache-Control` value, if it gives one.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_any_cache_control() {
        let secs = |value: &str| max_age(value).map(|d| d.as_secs());
        assert_eq!(
            secs("public, max-age=15, stale-while-revalidate=15, stale-if-error=86400"),
            Some(15)
        );
        assert_eq!(secs("Max-Age=600"), Some(600));
        assert_eq!(secs("max-age=\"60\""), Some(60));
        assert_eq!(secs("no-cache"), None);
        assert_eq!(secs("s-maxage=10"), None);
        assert_eq!(secs("max-age=-1"), None);
    }
}

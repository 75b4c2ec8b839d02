//! The lifecycle events' webhook: `DRAFTD_WEBHOOK_*`. Without a URL, no
//! event is recorded; with one, a valid secret is required.

use std::time::Duration;

use clap::Args;

use crate::jobs::webhooks::sign::{SecretError, SigningSecret};
use crate::jobs::webhooks::WebhookSettings;

#[derive(Args, Clone, Debug)]
pub struct WebhookConfig {
    /// Where lifecycle events are POSTed (http or https). Unset: no events
    /// are recorded.
    #[arg(long = "webhook-url", env = "DRAFTD_WEBHOOK_URL")]
    pub url: Option<String>,

    /// Standard Webhooks signing secrets, `whsec_<base64>`, comma-separated;
    /// each signs every delivery (for rotation). Required with a URL.
    #[arg(
        long = "webhook-secret",
        env = "DRAFTD_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<String>,

    /// One delivery attempt's timeout, in ms.
    #[arg(long = "webhook-timeout-ms", env = "DRAFTD_WEBHOOK_TIMEOUT_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,

    /// Attempts of a delivery before the event is dead.
    #[arg(long = "webhook-max-attempts", env = "DRAFTD_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(i32).range(1..))]
    pub max_attempts: i32,

    /// Wait after a delivery's first failure, in ms; doubles with each
    /// further one (at most 6 hours).
    #[arg(
        long = "webhook-backoff-ms",
        env = "DRAFTD_WEBHOOK_BACKOFF_MS",
        default_value_t = 30_000
    )]
    pub backoff_ms: u64,

    /// How often the job queue runner polls for due deliveries, in ms.
    #[arg(long = "webhook-poll-ms", env = "DRAFTD_WEBHOOK_POLL_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookConfigError {
    #[error("DRAFTD_WEBHOOK_URL {0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("DRAFTD_WEBHOOK_SECRET is required with DRAFTD_WEBHOOK_URL")]
    MissingSecret,
    #[error("DRAFTD_WEBHOOK_SECRET: {0}")]
    BadSecret(#[from] SecretError),
}

impl WebhookConfig {
    /// The delivery task's settings, or `None` when no URL is set (no events).
    pub fn settings(
        &self,
        store_timeout: Duration,
    ) -> Result<Option<WebhookSettings>, WebhookConfigError> {
        let Some(url) = self.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let parsed = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| WebhookConfigError::BadUrl(url.to_owned()))?;
        let secrets = SigningSecret::parse_list(
            self.secret
                .as_deref()
                .ok_or(WebhookConfigError::MissingSecret)?,
        )?;
        Ok(Some(WebhookSettings {
            url: parsed,
            secrets,
            timeout: Duration::from_millis(self.timeout_ms),
            max_attempts: self.max_attempts,
            backoff: Duration::from_millis(self.backoff_ms),
            poll: Duration::from_millis(self.poll_ms),
            store_timeout,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn config(url: Option<&str>, secret: Option<&str>) -> WebhookConfig {
        let mut config = crate::config::Config::defaults().webhook;
        config.url = url.map(str::to_owned);
        config.secret = secret.map(str::to_owned);
        config
    }

    fn settings(url: Option<&str>, secret: Option<&str>) -> Result<bool, WebhookConfigError> {
        config(url, secret)
            .settings(Duration::from_secs(2))
            .map(|s| s.is_some())
    }

    #[test]
    fn no_url_means_no_events_and_a_url_needs_a_valid_secret() {
        assert!(!settings(None, None).unwrap());
        assert!(settings(Some("https://hooks.example/draftd"), Some(SECRET)).unwrap());
        assert!(matches!(
            settings(Some("https://hooks.example/draftd"), None),
            Err(WebhookConfigError::MissingSecret)
        ));
        assert!(matches!(
            settings(Some("https://hooks.example/draftd"), Some("plain-secret")),
            Err(WebhookConfigError::BadSecret(SecretError::NoPrefix))
        ));
        assert!(matches!(
            settings(Some("ftp://hooks.example/"), Some(SECRET)),
            Err(WebhookConfigError::BadUrl(_))
        ));
        let defaults = config(None, None);
        assert_eq!((defaults.timeout_ms, defaults.max_attempts), (5000, 8));
    }
}

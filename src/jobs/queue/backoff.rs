//! When a failed job runs again: a backoff that doubles, with jitter, or
//! what the receiver asked for with `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::TaskSettings;

/// The longest `Retry-After` honoured: a receiver asking for more is tried
/// again after an hour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The wait after the `attempts`-th failure of job `id`: `backoff`, doubling,
/// at most `max_backoff`, plus up to a quarter more. The jitter spreads the
/// retries of jobs that failed together (a receiver down for a minute) so
/// they do not all come back at once; it is drawn from the job and attempt,
/// so it needs no random source and a test can name it.
pub fn backoff(settings: &TaskSettings, id: i64, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let wait = settings
        .backoff
        .saturating_mul(2u32.pow(exponent))
        .min(settings.max_backoff);
    wait + wait.mul_f64(jitter(id, attempts) / 4.0)
}

/// A fraction in [0, 1) from the job and the attempt (SplitMix64's mix).
fn jitter(id: i64, attempts: i32) -> f64 {
    let mut z = (id as u64) ^ (u64::from(attempts as u32) << 40);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A `Retry-After` value: delay-seconds, or an HTTP-date, as a wait from
/// `now` (a date past is no wait), at most [`MAX_RETRY_AFTER`]. `None` if
/// it is neither.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&Utc) - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TaskSettings {
        TaskSettings {
            max_attempts: 8,
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(6 * 3600),
            lease: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap_plus_at_most_a_quarter() {
        let settings = settings();
        for (attempts, base) in [(1, 30), (2, 60), (4, 240), (30, 6 * 3600)] {
            for id in 1..200 {
                let wait = backoff(&settings, id, attempts);
                let base = Duration::from_secs(base);
                assert!(wait >= base && wait < base.mul_f64(1.25), "{id} {attempts}");
            }
        }
    }

    #[test]
    fn jobs_failing_together_come_back_apart() {
        let settings = settings();
        let waits: std::collections::HashSet<Duration> =
            (1..100).map(|id| backoff(&settings, id, 3)).collect();
        assert!(waits.len() > 90, "{}", waits.len());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_up_to_an_hour() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let secs = Duration::from_secs;
        assert_eq!(retry_after("120", now), Some(secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(secs(0)));
        assert_eq!(retry_after("86400", now), Some(MAX_RETRY_AFTER));
        let date = "Wed, 21 Oct 2015 07:30:00 GMT";
        assert_eq!(retry_after(date, now), Some(secs(120)));
        let past = "Wed, 21 Oct 2015 07:00:00 GMT";
        assert_eq!(retry_after(past, now), Some(Duration::ZERO));
        let far = "Thu, 22 Oct 2015 07:28:00 GMT";
        assert_eq!(retry_after(far, now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }
}

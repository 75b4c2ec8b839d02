//! Keyset pages of a list sorted newest first: an opaque cursor names the
//! last item a page held, so the next page starts after it however the list
//! changed meanwhile (no OFFSET).

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Items per page when the caller names none, and at most.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// The earliest time a cursor may name, in µs since the Unix epoch: that of
/// Postgres' `timestamptz` (4714-11-24 00:00 UTC BC). Its latest (294276 AD) lies
/// past chrono's own (262143 AD), so `DateTime` cannot exceed it.
pub const EARLIEST_MICROS: i64 = -210_866_803_200_000_000;

/// Where a page starts: after the item with this time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// Opaque to clients: hex of `<unix µs>:<id>`.
    pub fn encode(&self) -> String {
        hex::encode(format!("{}:{}", self.at.timestamp_micros(), self.id))
    }

    /// `None` for anything [`Cursor::encode`] did not make, a time a store
    /// cannot hold included: no listed item has one.
    pub fn decode(text: &str) -> Option<Self> {
        let raw = String::from_utf8(hex::decode(text).ok()?).ok()?;
        let (micros, id) = raw.split_once(':')?;
        let micros: i64 = micros.parse().ok()?;
        if micros < EARLIEST_MICROS {
            return None;
        }
        Some(Self {
            at: DateTime::from_timestamp_micros(micros)?,
            id: id.parse().ok()?,
        })
    }
}

/// A page request: at most `limit` items, after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE,
            after: None,
        }
    }
}

/// One page, and the cursor of the next if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// The page of `items` that `request` names, newest first by `key`.
pub fn paginate<T>(mut items: Vec<T>, request: PageRequest, key: impl Fn(&T) -> Cursor) -> Page<T> {
    let order = |c: Cursor| std::cmp::Reverse((c.at, c.id));
    items.sort_by_key(|item| order(key(item)));
    if let Some(after) = request.after {
        items.retain(|item| order(key(item)) > order(after));
    }
    let limit = request.limit.clamp(1, MAX_PAGE);
    let next = (items.len() > limit).then(|| key(&items[limit - 1]));
    items.truncate(limit);
    Page { items, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let at = |s| DateTime::from_timestamp(s, 0).unwrap();
        let items: Vec<Cursor> = (0..7)
            .map(|i| Cursor {
                at: at(i / 2),
                id: Uuid::from_u128(i as u128),
            })
            .collect();
        let mut seen = Vec::new();
        let mut request = PageRequest {
            limit: 3,
            after: None,
        };
        loop {
            let page = paginate(items.clone(), request, |c| *c);
            seen.extend(page.items);
            match page.next {
                Some(next) => request.after = Some(Cursor::decode(&next.encode()).unwrap()),
                None => break,
            }
        }
        let mut expected = items;
        expected.sort_by_key(|c| std::cmp::Reverse((c.at, c.id)));
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_cursor_not_made_here_is_none() {
        assert_eq!(Cursor::decode("zz"), None);
        assert_eq!(Cursor::decode(&hex::encode("1:not-a-uuid")), None);
    }

    #[test]
    fn a_cursor_outside_what_postgres_holds_is_none() {
        let id = Uuid::from_u128(7);
        let at = |micros: i64| Cursor::decode(&hex::encode(format!("{micros}:{id}")));
        assert!(at(EARLIEST_MICROS).is_some());
        assert_eq!(at(EARLIEST_MICROS - 1), None);
        assert_eq!(at(i64::MIN), None);
        assert_eq!(at(i64::MAX), None);
        let latest = DateTime::<Utc>::MAX_UTC.timestamp_micros();
        assert_eq!(at(latest).map(|c| c.at.timestamp_micros()), Some(latest));
    }
}

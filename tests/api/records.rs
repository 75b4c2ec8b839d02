//! A draft's record as stored in Redis, for the tests that read or plant one
//! directly (layout in `src/stores/redis/record.rs`): a header line of ten
//! space-separated fields (nine in a record written before `ix`), then a
//! `<name>=<JSON text>` line per form field.

use deadpool_redis::redis::{self, aio::MultiplexedConnection, AsyncCommands};
use uuid::Uuid;

const HEADER: [&str; 10] = [
    "org", "v", "st", "ca", "ua", "ea", "tr", "cid", "cslug", "ix",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Ten fields, or the first nine.
    header: Vec<String>,
    /// (name, JSON text), in stored order.
    pub fields: Vec<(String, String)>,
}

impl Record {
    /// A valid, open, empty draft of `org`, as if created an hour ago and
    /// expiring in a day, its index entry's score not known (`ix` '-').
    pub fn of(org: Uuid) -> Self {
        let now = chrono::Utc::now().timestamp_millis();
        let (created, expires) = (now - 3_600_000, now + 86_400_000);
        let header = [
            org.to_string(),
            "1".into(),
            "open".into(),
            created.to_string(),
            created.to_string(),
            expires.to_string(),
            "0".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]
        .into();
        Self {
            header,
            fields: Vec::new(),
        }
    }

    pub fn parse(text: &str) -> Self {
        let mut lines = text.split('\n');
        let parts: Vec<String> = lines
            .next()
            .unwrap_or_default()
            .split(' ')
            .map(str::to_owned)
            .collect();
        assert!(
            parts.len() == HEADER.len() || parts.len() == HEADER.len() - 1,
            "ten header fields, or nine: {parts:?}"
        );
        let header = parts;
        let fields = lines
            .map(|line| {
                let (name, json) = line.split_once('=').expect("a name=JSON line");
                (name.to_owned(), json.to_owned())
            })
            .collect();
        Self { header, fields }
    }

    /// The record at `key`, if there is one. `None` also for a draft in the
    /// hash layout this one replaced: the shared Redis may hold other runs'.
    pub async fn read(redis: &mut MultiplexedConnection, key: &str) -> Option<Self> {
        let kind: String = redis.key_type(key).await.expect("TYPE of a draft");
        if kind != "string" {
            return None;
        }
        let text: Option<String> = redis.get(key).await.expect("GET a draft");
        text.as_deref().map(Self::parse)
    }

    /// Writes the record to `key`, keeping the key's TTL.
    pub async fn write(&self, redis: &mut MultiplexedConnection, key: &str) {
        let () = redis::cmd("SET")
            .arg(key)
            .arg(self.to_string())
            .arg("KEEPTTL")
            .query_async(redis)
            .await
            .expect("SET a draft");
    }

    /// A header field by its name (`org`, `v`, `st`, …).
    pub fn get(&self, name: &str) -> &str {
        &self.header[Self::position(name)]
    }

    pub fn set(&mut self, name: &str, value: impl ToString) {
        self.header[Self::position(name)] = value.to_string();
    }

    /// Whether the header has `ix`, the tenth field.
    pub fn has_index_score(&self) -> bool {
        self.header.len() == HEADER.len()
    }

    /// The record as written before the header had `ix`: its first nine fields.
    pub fn without_index_score(mut self) -> Self {
        self.header.truncate(HEADER.len() - 1);
        self
    }

    /// Sets a form field's stored JSON text, in place or appended.
    pub fn set_field(&mut self, name: &str, json: &str) {
        match self.fields.iter_mut().find(|(field, _)| field == name) {
            Some((_, text)) => *text = json.to_owned(),
            None => self.fields.push((name.to_owned(), json.to_owned())),
        }
    }

    fn position(name: &str) -> usize {
        HEADER
            .iter()
            .position(|field| *field == name)
            .expect("a header field")
    }
}

impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.header.join(" "))?;
        for (name, json) in &self.fields {
            write!(f, "\n{name}={json}")?;
        }
        Ok(())
    }
}

//! A content check between two chunks of a resumable upload, which may come
//! to another process: what it has learnt so far, as stored.

use super::package::PackageScan;
use super::text::Utf8Stream;
use super::{ContentCheck, Rule};

/// A [`ContentCheck`] between two chunks, as stored.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedCheck {
    declared: String,
    #[serde(with = "base64_bytes")]
    head: Vec<u8>,
    head_checked: bool,
    seen: u64,
    package: Option<PackageScan>,
    text: Option<Utf8Stream>,
}

/// The head as base64 in JSON: a third of the size of a list of numbers.
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

impl ContentCheck {
    /// What the check has learnt so far, to carry it over to another
    /// request (a resumable upload's next chunk) or another process.
    pub fn save(&self) -> SavedCheck {
        let (package, text) = match &self.rule {
            Rule::Package(_, scan) => (Some(scan.clone()), None),
            Rule::Text(utf8) => (None, Some(utf8.clone())),
            _ => (None, None),
        };
        SavedCheck {
            declared: self.declared.clone(),
            head: self.head.clone(),
            head_checked: self.head_checked,
            seen: self.seen,
            package,
            text,
        }
    }

    /// The check as [`ContentCheck::save`] left it.
    pub fn restore(saved: SavedCheck) -> Self {
        let mut check = Self::new(&saved.declared);
        match (&mut check.rule, saved.package, saved.text) {
            (Rule::Package(_, scan), Some(saved), _) => *scan = saved,
            (Rule::Text(utf8), _, Some(saved)) => *utf8 = saved,
            _ => {}
        }
        check.head = saved.head;
        check.head_checked = saved.head_checked;
        check.seen = saved.seen;
        check
    }
}

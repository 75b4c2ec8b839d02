//! `If-Match` (RFC 9110 13.1.1): `*`, or a list of entity tags, of which the
//! draft's current one must be one. A draft's ETag is its version in quotes
//! (`"7"`), compared strongly: a weak tag (`W/"7"`) never matches, and only
//! the exact spelling of a version is one (`"+7"` and `"07"` are other tags).

use actix_web::http::header::{self, HeaderMap};

use crate::domain::Precondition;

/// The precondition of a request's `If-Match` fields. Several fields form one
/// list; `*` stands alone. Anything else that is not a list of entity tags
/// can match nothing.
pub fn precondition(headers: &HeaderMap) -> Precondition {
    let fields: Vec<&[u8]> = headers
        .get_all(header::IF_MATCH)
        .map(|field| field.as_bytes().trim_ascii())
        .collect();
    if matches!(fields.as_slice(), [] | [b"*"]) {
        return Precondition::None;
    }
    let mut versions = Vec::new();
    for field in fields {
        let Some(tags) = entity_tags(field) else {
            return Precondition::AnyOf(Vec::new());
        };
        versions.extend(tags.into_iter().filter_map(version));
    }
    versions.sort_unstable();
    versions.dedup();
    Precondition::AnyOf(versions)
}

/// An entity tag: strong or weak, and its opaque part without the quotes.
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a [u8],
}

/// The tags of `#entity-tag` (empty elements allowed, as RFC 9110 5.6.1 asks
/// a recipient to), or `None` if the list is malformed (`*` among others too).
fn entity_tags(list: &[u8]) -> Option<Vec<EntityTag<'_>>> {
    let mut tags = Vec::new();
    let mut rest = list;
    loop {
        rest = rest.trim_ascii_start();
        let Some((&first, after)) = rest.split_first() else {
            return Some(tags);
        };
        if first == b',' {
            rest = after;
            continue;
        }
        let (weak, quoted) = match rest.strip_prefix(b"W/") {
            Some(quoted) => (true, quoted),
            None => (false, rest),
        };
        let quoted = quoted.strip_prefix(b"\"")?;
        let end = quoted.iter().position(|&b| b == b'"')?;
        let opaque = &quoted[..end];
        // etagc: %x21 / %x23-7E / obs-text
        if !opaque
            .iter()
            .all(|&b| b == 0x21 || (b >= 0x23 && b != 0x7f))
        {
            return None;
        }
        tags.push(EntityTag { weak, opaque });
        rest = quoted[end + 1..].trim_ascii_start();
        match rest.split_first() {
            None => {}
            Some((b',', after)) => rest = after,
            Some(_) => return None,
        }
    }
}

/// The version a tag names: a strong tag spelled exactly as a version's ETag.
fn version(tag: EntityTag<'_>) -> Option<u64> {
    if tag.weak {
        return None;
    }
    let digits = std::str::from_utf8(tag.opaque).ok()?;
    let version: u64 = digits.parse().ok()?;
    (version.to_string() == digits).then_some(version)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderMap, HeaderValue, IF_MATCH};

    use super::*;

    fn parse(fields: &[&str]) -> Precondition {
        let mut headers = HeaderMap::new();
        for field in fields {
            headers.append(IF_MATCH, HeaderValue::from_str(field).unwrap());
        }
        precondition(&headers)
    }

    fn any_of(versions: &[u64]) -> Precondition {
        Precondition::AnyOf(versions.to_vec())
    }

    #[test]
    fn no_field_or_a_star_matches_any_version() {
        assert_eq!(parse(&[]), Precondition::None);
        assert_eq!(parse(&["*"]), Precondition::None);
        assert_eq!(parse(&[" * "]), Precondition::None);
    }

    #[test]
    fn a_list_matches_any_of_its_strong_tags() {
        assert_eq!(parse(&["\"3\""]), any_of(&[3]));
        assert_eq!(parse(&["\"7\", \"3\""]), any_of(&[3, 7]));
        assert_eq!(parse(&["\"7\",\"3\",,"]), any_of(&[3, 7]));
        assert_eq!(parse(&["\"7\"", "\"3\""]), any_of(&[3, 7]));
        assert_eq!(parse(&["\"abc\", \"3\""]), any_of(&[3]));
        assert_eq!(parse(&["\"a,b\", \"3\""]), any_of(&[3]));
    }

    #[test]
    fn weak_and_foreign_spellings_never_match() {
        assert_eq!(parse(&["W/\"3\""]), any_of(&[]));
        assert_eq!(parse(&["W/\"3\", \"4\""]), any_of(&[4]));
        for tag in ["\"+2\"", "\"02\"", "\"-2\"", "\" 2\"", "\"2 \"", "\"\""] {
            assert_eq!(parse(&[tag]), any_of(&[]), "{tag}");
        }
        assert_eq!(parse(&["\"99999999999999999999\""]), any_of(&[]));
    }

    #[test]
    fn a_malformed_field_matches_nothing() {
        for field in [
            "3",
            "\"3",
            "\"3\" \"4\"",
            "\"3\"; x",
            "w/\"3\"",
            "*, \"3\"",
            "",
        ] {
            assert_eq!(parse(&[field]), any_of(&[]), "{field:?}");
        }
        assert_eq!(parse(&["\"3\"", "4"]), any_of(&[]));
        assert_eq!(parse(&["*", "\"3\""]), any_of(&[]));
    }
}

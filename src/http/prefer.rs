//! `Prefer: return=minimal` (RFC 7240): the client needs no representation
//! back, only the status and the headers. An autosave answered so is a 204
//! with the draft's new `ETag` and `Preference-Applied: return=minimal`.

use actix_web::http::header::{HeaderMap, HeaderName};

use crate::domain::draft::Return;

pub const PREFER: HeaderName = HeaderName::from_static("prefer");
pub const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// What the request's `Prefer` fields ask of the answer. Only the first
/// `return` preference counts (RFC 7240 2); preferences the service does not
/// know, and a `return` value it does not know, are ignored.
pub fn answer(headers: &HeaderMap) -> Return {
    let first_return = headers
        .get_all(PREFER)
        .filter_map(|field| field.to_str().ok())
        .flat_map(|field| field.split(','))
        .filter_map(|preference| {
            // Parameters after ';' do not change what `return` means.
            let head = preference.split(';').next().unwrap_or_default();
            let (name, value) = head.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("return")
                .then(|| value.trim().trim_matches('"'))
        })
        .next();
    match first_return {
        Some(value) if value.eq_ignore_ascii_case("minimal") => Return::Minimal,
        _ => Return::Representation,
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn answer_to(fields: &[&str]) -> Return {
        let mut headers = HeaderMap::new();
        for field in fields {
            headers.append(PREFER, HeaderValue::from_str(field).unwrap());
        }
        answer(&headers)
    }

    #[test]
    fn minimal_is_asked_in_any_case_among_other_preferences() {
        assert_eq!(answer_to(&["return=minimal"]), Return::Minimal);
        assert_eq!(answer_to(&["RETURN = \"Minimal\""]), Return::Minimal);
        assert_eq!(
            answer_to(&["respond-async, wait=10"]),
            Return::Representation
        );
        assert_eq!(
            answer_to(&["wait=10", "return=minimal; foo=bar"]),
            Return::Minimal
        );
    }

    #[test]
    fn only_the_first_return_preference_counts() {
        assert_eq!(
            answer_to(&["return=representation, return=minimal"]),
            Return::Representation
        );
        assert_eq!(
            answer_to(&["return=minimal", "return=representation"]),
            Return::Minimal
        );
    }

    #[test]
    fn without_a_known_return_the_draft_is_answered() {
        assert_eq!(answer_to(&[]), Return::Representation);
        assert_eq!(answer_to(&["return=nothing"]), Return::Representation);
        assert_eq!(answer_to(&["minimal"]), Return::Representation);
    }
}

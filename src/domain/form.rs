//! The create-course form.
//!
//! Autosave stores work in progress, so while drafting a field is checked for
//! its type and its size limits only: a half-typed email or a two-letter topic
//! is kept, not refused, and no keystroke is lost. The remaining rules (topic
//! required and at least 3 characters, a valid email and language tag) apply
//! when the form is submitted. Text is checked for the characters it may hold
//! while drafting already ([`text`]): a value that can never be submitted is
//! refused when it is typed, not when the form is sent. The fields, their
//! kinds and both sets of limits are one table, [`FIELDS`] ([`fields`]).

mod fields;
mod submit;
mod text;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

pub use fields::{field, Field, Format, Kind, OnSubmit, FIELDS, TOPIC};
pub use submit::{SubmittedForm, Topic};
pub use text::Lines;

/// Whether `topic` may be a course's title as it is: what autosave lets
/// through, checked again for drafts saved before the rule.
pub fn is_clean_title(topic: &str) -> bool {
    text::refusal(topic, Lines::Single).is_none()
}

/// Messages by field, as in the `errors` member of a validation problem.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// A JSON Merge Patch (RFC 7396) of the form: fields to set, fields to remove.
/// Every value set has passed the drafting rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormPatch {
    /// `(field, value as JSON text)`, in wire names.
    set: Vec<(&'static str, String)>,
    remove: Vec<&'static str>,
}

impl FormPatch {
    /// Parses a merge patch of the form. Reports every bad field at once:
    /// unknown names, wrong types and broken limits.
    pub fn parse(patch: Map<String, Value>) -> Result<Self, FieldErrors> {
        let mut parsed = FormPatch::default();
        let mut errors = FieldErrors::default();
        for (name, value) in patch {
            let Some(field) = field(&name) else {
                errors.add(name, "is not a field of the form");
                continue;
            };
            if value.is_null() {
                parsed.remove.push(field.name);
                continue;
            }
            // Characters a title must not hold, and NUL, which Postgres cannot
            // store (jsonb refuses \u0000), are refused here among the limits:
            // they can never strand a draft at submit.
            let refusals = field.draft_refusals(&value);
            if refusals.is_empty() {
                parsed.set.push((field.name, value.to_string()));
            }
            for message in refusals {
                errors.add(field.name, message);
            }
        }
        if errors.is_empty() {
            Ok(parsed)
        } else {
            Err(errors)
        }
    }

    /// Fields to set, with their values as JSON text.
    pub fn assignments(&self) -> &[(&'static str, String)] {
        &self.set
    }

    /// Fields to remove.
    pub fn removals(&self) -> &[&'static str] {
        &self.remove
    }

    /// The patch as JSON text, `null` for each field removed: what the
    /// client sent, as validated, built without a parse.
    pub fn to_json(&self) -> String {
        let mut json = String::from("{");
        let removed = self.remove.iter().map(|field| (*field, "null"));
        let set = self.set.iter().map(|(field, text)| (*field, text.as_str()));
        for (i, (field, value)) in set.chain(removed).enumerate() {
            if i > 0 {
                json.push(',');
            }
            // Field names are the form's own, plain ASCII identifiers.
            json.push('"');
            json.push_str(field);
            json.push_str("\":");
            json.push_str(value);
        }
        json.push('}');
        json
    }

    /// The fields to set, as a JSON object.
    pub fn assignments_object(&self) -> Map<String, Value> {
        self.set
            .iter()
            .filter_map(|(field, text)| {
                Some(((*field).to_owned(), serde_json::from_str(text).ok()?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<FormPatch, FieldErrors> {
        match value {
            Value::Object(map) => FormPatch::parse(map),
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn keeps_values_and_removals() {
        let patch = parse(json!({"topic": "Ru", "formats": ["video"], "email": null})).unwrap();
        assert_eq!(
            patch.assignments(),
            &[
                ("formats", r#"["video"]"#.to_string()),
                ("topic", r#""Ru""#.to_string())
            ]
        );
        assert_eq!(patch.removals(), &["email"]);
    }

    #[test]
    fn a_patch_reads_back_as_json() {
        let sent = json!({"topic": "Ru \"quoted\"", "description": "a\nb", "email": null});
        let patch = parse(sent.clone()).unwrap();
        let json: Value = serde_json::from_str(&patch.to_json()).unwrap();
        assert_eq!(json, sent);
        assert_eq!(parse(json!({})).unwrap().to_json(), "{}");
    }

    #[test]
    fn reports_every_bad_field() {
        let errors = parse(json!({
            "topic": 5,
            "tpoic": "typo",
            "estimatedLessons": 101,
            "lessonDuration": 2.5,
            "formats": ["x".repeat(51)],
            "description": "d".repeat(5001),
        }))
        .unwrap_err();
        let fields: Vec<_> = errors.fields().collect();
        assert_eq!(
            fields,
            [
                "description",
                "estimatedLessons",
                "formats",
                "lessonDuration",
                "topic",
                "tpoic"
            ]
        );
    }

    #[test]
    fn a_nul_character_is_refused_where_it_stands() {
        let errors =
            parse(json!({"topic": "a\0b", "formats": ["ok", "x\0"]})).expect_err("NUL refused");
        assert_eq!(errors.fields().collect::<Vec<_>>(), ["formats", "topic"]);
    }

    #[test]
    fn one_line_fields_refuse_line_breaks_and_every_field_bidi_controls() {
        let single = [
            "topic",
            "email",
            "writingStyle",
            "contentStrategy",
            "language",
        ];
        let multi = ["description", "targetAudience", "learningOutcomes"];
        for field in single {
            let errors = parse(json!({ field: "one\ntwo" })).expect_err(field);
            assert_eq!(errors.fields().collect::<Vec<_>>(), [field]);
        }
        assert!(parse(json!({"formats": ["video", "a\tb"]})).is_err());
        for field in multi {
            assert!(parse(json!({ field: "one\n\ttwo" })).is_ok(), "{field}");
        }
        for field in single.iter().chain(&multi) {
            let errors = parse(json!({ *field: "Rust \u{202E}nohtyP" })).expect_err(field);
            assert_eq!(errors.fields().collect::<Vec<_>>(), [*field]);
        }
        let form = |v: Value| v.as_object().cloned().unwrap_or_default();
        let errors = SubmittedForm::parse(&form(json!({"topic": "Rust\u{85} basics"})));
        assert!(errors.is_err_and(|e| e.fields().eq(["topic"])));
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        assert!(parse(json!({"topic": "ы".repeat(200)})).is_ok());
        assert!(parse(json!({"topic": "ы".repeat(201)})).is_err());
    }

    #[test]
    fn drafting_keeps_work_in_progress() {
        assert!(parse(json!({"topic": "R", "email": "ivan@", "language": "p"})).is_ok());
    }
}

//! The create-course form.
//!
//! Autosave stores work in progress, so while drafting a field is checked for
//! its type and its size limits only: a half-typed email or a two-letter topic
//! is kept, not refused, and no keystroke is lost. The remaining rules (topic
//! required and at least 3 characters, a valid email and language tag) apply
//! when the form is submitted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

/// The form's fields and their drafting limits. Every field is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FormData {
    /// 3-200 characters after trimming (the minimum applies on submit).
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[validate(length(max = 5000, message = "must be at most 5000 characters"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A valid email address (checked on submit).
    #[validate(length(max = 254, message = "must be at most 254 characters"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writing_style: Option<String>,
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_strategy: Option<String>,
    /// A language tag such as `ru`, `en` or `pt-BR` (checked on submit).
    #[validate(length(max = 35, message = "must be at most 35 characters"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_audience: Option<String>,
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_lessons: Option<i64>,
    #[validate(range(min = 1, max = 30, message = "must be between 1 and 30"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_sections: Option<i64>,
    /// Minutes per lesson.
    #[validate(range(min = 1, max = 180, message = "must be between 1 and 180"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lesson_duration: Option<i64>,
    #[validate(length(max = 5000, message = "must be at most 5000 characters"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_outcomes: Option<String>,
    #[validate(
        length(max = 10, message = "must have at most 10 items"),
        custom(function = "formats_fit")
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formats: Option<Vec<String>>,
}

fn formats_fit(formats: &[String]) -> Result<(), ValidationError> {
    if formats.iter().any(|f| f.chars().count() > 50) {
        return Err(ValidationError::new("length")
            .with_message("each item must be at most 50 characters".into()));
    }
    Ok(())
}

/// Field name (camelCase, as on the wire) and what its JSON value must be.
const FIELDS: [(&str, &str); 12] = [
    ("topic", "a string"),
    ("description", "a string"),
    ("email", "a string"),
    ("writingStyle", "a string"),
    ("contentStrategy", "a string"),
    ("language", "a string"),
    ("targetAudience", "a string"),
    ("estimatedLessons", "an integer"),
    ("estimatedSections", "an integer"),
    ("lessonDuration", "an integer"),
    ("learningOutcomes", "a string"),
    ("formats", "an array of strings"),
];

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

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        _ => false,
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
            let Some(&(field, expected)) = FIELDS.iter().find(|(field, _)| *field == name) else {
                errors.add(name, "is not a field of the form");
                continue;
            };
            if value.is_null() {
                parsed.remove.push(field);
                continue;
            }
            // Postgres cannot store it (jsonb refuses \u0000): refused here,
            // it can never strand a draft at submit.
            if holds_nul(&value) {
                errors.add(field, "must not contain the NUL character (U+0000)");
                continue;
            }
            let text = value.to_string();
            let single = Map::from_iter([(name, value)]);
            match serde_json::from_value::<FormData>(Value::Object(single)) {
                Err(_) => errors.add(field, format!("must be {expected}")),
                Ok(form) => match form.validate() {
                    Ok(()) => parsed.set.push((field, text)),
                    Err(invalid) => {
                        for e in invalid.field_errors().into_values().flatten() {
                            let message = e.message.as_deref().unwrap_or("is invalid");
                            errors.add(field, message);
                        }
                    }
                },
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

/// A course topic: 3-200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic(String);

impl Topic {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        match trimmed.chars().count() {
            0..=2 => Err("must be at least 3 characters"),
            3..=200 => Ok(Self(trimmed.to_owned())),
            _ => Err("must be at most 200 characters"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A language tag such as `ru`, `en` or `pt-BR` (BCP 47's shape: a 2-3 letter
/// language, then subtags of 1-8 letters or digits).
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language = parts.next().unwrap_or_default();
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A form that passed every rule, as submit requires.
#[derive(Debug, Clone)]
pub struct SubmittedForm {
    pub topic: Topic,
    /// The form data to keep, with the topic trimmed.
    pub data: Map<String, Value>,
}

impl SubmittedForm {
    /// Applies the drafting rules, then the ones only submit enforces.
    pub fn parse(form: &Map<String, Value>) -> Result<Self, FieldErrors> {
        FormPatch::parse(form.clone())?;
        let parsed: FormData = serde_json::from_value(Value::Object(form.clone()))
            .map_err(|e| FieldErrors::single("formData", e.to_string()))?;
        let mut errors = FieldErrors::default();
        let topic = match parsed.topic.as_deref().map(Topic::parse) {
            None => {
                errors.add("topic", "is required");
                None
            }
            Some(Err(message)) => {
                errors.add("topic", message);
                None
            }
            Some(Ok(topic)) => Some(topic),
        };
        if let Some(email) = &parsed.email {
            if !validator::ValidateEmail::validate_email(email) {
                errors.add("email", "must be a valid email address");
            }
        }
        if let Some(language) = &parsed.language {
            if !is_language_tag(language) {
                errors.add("language", "must be a language tag such as ru, en or pt-BR");
            }
        }
        match topic {
            Some(topic) if errors.is_empty() => {
                let mut data = form.clone();
                data.insert("topic".into(), Value::String(topic.as_str().to_owned()));
                Ok(Self { topic, data })
            }
            _ => Err(errors),
        }
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
        let sent = json!({"topic": "Ru \"quoted\"\n", "formats": ["video"], "email": null});
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
    fn limits_count_characters_not_bytes() {
        assert!(parse(json!({"topic": "ы".repeat(200)})).is_ok());
        assert!(parse(json!({"topic": "ы".repeat(201)})).is_err());
    }

    #[test]
    fn submit_enforces_every_rule() {
        let form = |v: Value| v.as_object().cloned().unwrap();
        let errors = SubmittedForm::parse(&form(
            json!({"topic": "  R ", "email": "ivan@", "language": "russian!"}),
        ))
        .unwrap_err();
        assert_eq!(
            errors.fields().collect::<Vec<_>>(),
            ["email", "language", "topic"]
        );
        let missing = SubmittedForm::parse(&Map::new()).unwrap_err();
        assert_eq!(missing, FieldErrors::single("topic", "is required"));

        let ok = SubmittedForm::parse(&form(
            json!({"topic": "  Основы Rust ", "email": "a@b.ru", "language": "pt-BR"}),
        ))
        .unwrap();
        assert_eq!(ok.topic.as_str(), "Основы Rust");
        assert_eq!(ok.data["topic"], "Основы Rust");
    }

    #[test]
    fn drafting_keeps_work_in_progress() {
        assert!(parse(json!({"topic": "R", "email": "ivan@", "language": "p"})).is_ok());
    }
}

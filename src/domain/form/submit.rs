//! The rules only submit enforces, on top of the drafting rules: each field's
//! [`OnSubmit`] in the table (the topic required and of 3-200 characters after
//! trimming, a valid email, a language tag).

use serde_json::{Map, Value};

use super::fields::{Field, Format, OnSubmit, FIELDS, TOPIC};
use super::{FieldErrors, FormPatch};

/// A course topic, trimmed, of the length [`TOPIC`] allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic(String);

impl Topic {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        let max = TOPIC.max_chars().unwrap_or(usize::MAX);
        if chars < TOPIC.submit.min_chars {
            Err(format!(
                "must be at least {} characters",
                TOPIC.submit.min_chars
            ))
        } else if chars > max {
            Err(format!("must be at most {max} characters"))
        } else {
            Ok(Self(trimmed.to_owned()))
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

/// Why a field that passed the drafting rules cannot be submitted as it is.
fn submit_refusal(field: &Field, value: Option<&Value>) -> Option<String> {
    let Some(value) = value.filter(|value| !value.is_null()) else {
        return field.submit.required.then(|| "is required".to_owned());
    };
    let text = value.as_str()?;
    let OnSubmit {
        min_chars, format, ..
    } = field.submit;
    if text.trim().chars().count() < min_chars {
        return Some(format!("must be at least {min_chars} characters"));
    }
    let refusal = match format? {
        Format::Email if !validator::ValidateEmail::validate_email(&text) => {
            "must be a valid email address"
        }
        Format::LanguageTag if !is_language_tag(text) => {
            "must be a language tag such as ru, en or pt-BR"
        }
        _ => return None,
    };
    Some(refusal.to_owned())
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
        let mut errors = FieldErrors::default();
        for field in &FIELDS {
            if let Some(message) = submit_refusal(field, form.get(field.name)) {
                errors.add(field.name, message);
            }
        }
        let topic = match form
            .get(TOPIC.name)
            .and_then(Value::as_str)
            .map(Topic::parse)
        {
            _ if !errors.is_empty() => return Err(errors),
            Some(Ok(topic)) => topic,
            Some(Err(message)) => return Err(FieldErrors::single(TOPIC.name, message)),
            None => return Err(FieldErrors::single(TOPIC.name, "is required")),
        };
        let mut data = form.clone();
        data.insert(TOPIC.name.into(), Value::String(topic.as_str().to_owned()));
        Ok(Self { topic, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}

//! The rules only submit enforces: a topic of 3-200 characters after trimming,
//! a valid email and a language tag, on top of the drafting rules.

use serde_json::{Map, Value};

use super::{FieldErrors, FormData, FormPatch};

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

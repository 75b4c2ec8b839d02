//! The form's fields, in one table: each field's name on the wire, its kind,
//! its drafting limits and what submit adds. Everything that states a limit
//! reads it here: the drafting checks ([`super::FormPatch`]), the submit checks
//! ([`super::SubmittedForm`]), the OpenAPI schema (`http/schemas/form.rs`) and
//! the page, whose inputs get their limits templated in (`http/page.rs`). A
//! limit changed here changes in all of them.

use serde_json::Value;

use super::text::{self, Lines};

/// What a field's JSON value is, with its drafting limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string of at most `max_chars` characters, of one line or several.
    Text { lines: Lines, max_chars: usize },
    /// An integer from `min` to `max`.
    Integer { min: i64, max: i64 },
    /// At most `max_items` strings, each one line of at most `item_max_chars`
    /// characters (the page offers them as choices; the API takes any).
    List {
        max_items: usize,
        item_max_chars: usize,
    },
}

/// A shape only submit checks: while drafting a half-typed value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Email,
    /// A language tag such as `ru`, `en` or `pt-BR`.
    LanguageTag,
}

/// What submit requires of a field, on top of its drafting limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnSubmit {
    pub required: bool,
    /// Characters at least, after trimming (0: no minimum).
    pub min_chars: usize,
    pub format: Option<Format>,
}

/// One field of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// As on the wire (camelCase), and the page's input's `id` and `name`.
    pub name: &'static str,
    pub kind: Kind,
    pub submit: OnSubmit,
    /// What the field holds, beyond its limits, for the API's readers.
    pub about: Option<&'static str>,
}

impl Field {
    const fn new(name: &'static str, kind: Kind) -> Self {
        let submit = OnSubmit {
            required: false,
            min_chars: 0,
            format: None,
        };
        Self {
            name,
            kind,
            submit,
            about: None,
        }
    }

    const fn text(name: &'static str, lines: Lines, max_chars: usize) -> Self {
        Self::new(name, Kind::Text { lines, max_chars })
    }

    const fn integer(name: &'static str, min: i64, max: i64) -> Self {
        Self::new(name, Kind::Integer { min, max })
    }

    const fn about(self, about: &'static str) -> Self {
        Self {
            about: Some(about),
            ..self
        }
    }

    const fn checked(self, format: Format) -> Self {
        let submit = OnSubmit {
            format: Some(format),
            ..self.submit
        };
        Self { submit, ..self }
    }

    /// What its JSON value must be, as a refusal says it.
    pub fn expected(&self) -> &'static str {
        match self.kind {
            Kind::Text { .. } => "a string",
            Kind::Integer { .. } => "an integer",
            Kind::List { .. } => "an array of strings",
        }
    }

    /// The most characters a text field may hold.
    pub fn max_chars(&self) -> Option<usize> {
        match self.kind {
            Kind::Text { max_chars, .. } => Some(max_chars),
            _ => None,
        }
    }

    /// The bounds of an integer field.
    pub fn range(&self) -> Option<(i64, i64)> {
        match self.kind {
            Kind::Integer { min, max } => Some((min, max)),
            _ => None,
        }
    }

    /// Why `value` cannot be this field's while drafting: every message, none
    /// when it can. A text's characters are checked before its length.
    pub fn draft_refusals(&self, value: &Value) -> Vec<String> {
        match (self.kind, value) {
            (Kind::Text { lines, max_chars }, Value::String(text)) => text::refusal(text, lines)
                .or_else(|| too_long(text, max_chars))
                .into_iter()
                .collect(),
            (Kind::Integer { min, max }, Value::Number(n)) if n.is_i64() || n.is_u64() => {
                match n.as_i64() {
                    Some(n) if (min..=max).contains(&n) => vec![],
                    _ => vec![format!("must be between {min} and {max}")],
                }
            }
            (
                Kind::List {
                    max_items,
                    item_max_chars,
                },
                Value::Array(items),
            ) if items.iter().all(Value::is_string) => {
                let items: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                if let Some(refusal) = items.iter().find_map(|i| text::refusal(i, Lines::Single)) {
                    return vec![refusal];
                }
                let mut refusals = vec![];
                if items.len() > max_items {
                    refusals.push(format!("must have at most {max_items} items"));
                }
                if items.iter().any(|i| i.chars().count() > item_max_chars) {
                    let each = format!("each item must be at most {item_max_chars} characters");
                    refusals.push(each);
                }
                refusals
            }
            _ => vec![format!("must be {}", self.expected())],
        }
    }
}

fn too_long(text: &str, max_chars: usize) -> Option<String> {
    (text.chars().count() > max_chars).then(|| format!("must be at most {max_chars} characters"))
}

/// The topic: required on submit, the course's title.
pub const TOPIC: Field = Field {
    submit: OnSubmit {
        required: true,
        min_chars: 3,
        format: None,
    },
    ..Field::text("topic", Lines::Single, 200).about("the course's title")
};

/// Every field of the form, in the order the API's documentation lists them.
pub const FIELDS: [Field; 12] = [
    TOPIC,
    Field::text("description", Lines::Multi, 5000),
    Field::text("email", Lines::Single, 254)
        .checked(Format::Email)
        .about("A valid email address (checked on submit)."),
    Field::text("writingStyle", Lines::Single, 100),
    Field::text("contentStrategy", Lines::Single, 100),
    Field::text("language", Lines::Single, 35)
        .checked(Format::LanguageTag)
        .about("A language tag such as `ru`, `en` or `pt-BR` (checked on submit)."),
    Field::text("targetAudience", Lines::Multi, 1000),
    Field::integer("estimatedLessons", 1, 100),
    Field::integer("estimatedSections", 1, 30),
    Field::integer("lessonDuration", 1, 180).about("Minutes per lesson."),
    Field::text("learningOutcomes", Lines::Multi, 5000),
    Field::new(
        "formats",
        Kind::List {
            max_items: 10,
            item_max_chars: 50,
        },
    ),
];

/// The field of that wire name.
pub fn field(name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|field| field.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_unique_and_only_the_topic_is_required() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(field(f.name), Some(&FIELDS[i]), "{}", f.name);
        }
        let required: Vec<_> = FIELDS.iter().filter(|f| f.submit.required).collect();
        assert_eq!(required, [&TOPIC]);
    }

    #[test]
    fn refusals_state_the_limits_of_the_table() {
        let lessons = field("estimatedLessons").unwrap();
        assert_eq!(lessons.draft_refusals(&json!(100)), Vec::<String>::new());
        assert_eq!(
            lessons.draft_refusals(&json!(101)),
            ["must be between 1 and 100"]
        );
        assert_eq!(lessons.draft_refusals(&json!(2.5)), ["must be an integer"]);
        assert_eq!(
            lessons.draft_refusals(&json!(u64::MAX)),
            ["must be between 1 and 100"]
        );
        let formats = field("formats").unwrap();
        let refusals = formats.draft_refusals(&json!(vec!["x".repeat(51); 11]));
        assert_eq!(
            refusals,
            [
                "must have at most 10 items",
                "each item must be at most 50 characters"
            ]
        );
        assert_eq!(
            formats.draft_refusals(&json!(["a", 1])),
            ["must be an array of strings"]
        );
        assert_eq!(TOPIC.draft_refusals(&json!(["a"])), ["must be a string"]);
    }

    /// `5000` as docs/api.md writes it, `5,000`.
    fn written(n: i64) -> String {
        match n {
            1000.. => format!("{},{:03}", n / 1000, n % 1000),
            _ => n.to_string(),
        }
    }

    #[test]
    fn the_api_documentation_states_the_limits_of_the_table() {
        let doc = include_str!("../../../docs/api.md");
        let section = &doc[doc.find("## Validation").expect("docs/api.md: Validation")..];
        for f in FIELDS {
            let row = section
                .lines()
                .find(|line| {
                    line.starts_with('|')
                        && line
                            .split('|')
                            .nth(1)
                            .is_some_and(|names| names.split(',').any(|name| name.trim() == f.name))
                })
                .unwrap_or_else(|| panic!("docs/api.md has no row for {}", f.name));
            let stated = match f.kind {
                Kind::Text { max_chars, .. } => {
                    format!("at most {}", written(i64::try_from(max_chars).unwrap()))
                }
                Kind::Integer { min, max } => format!("{}-{}", written(min), written(max)),
                Kind::List {
                    max_items,
                    item_max_chars,
                } => {
                    format!("at most {max_items}, each at most {item_max_chars}")
                }
            };
            assert!(row.contains(&stated), "{}: {stated:?} in {row}", f.name);
            if f.submit.min_chars > 0 {
                let min = format!("at least {} after trimming", f.submit.min_chars);
                assert!(row.contains(&min), "{}: {min:?} in {row}", f.name);
            }
        }
    }
}

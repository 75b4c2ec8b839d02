//! The page's limits, filled in from the form's table of fields
//! ([`crate::domain::form::FIELDS`]) when the page is first served: the
//! inputs' `maxlength`, `minlength`, `min`, `max` and `required`, and the hints
//! that state them, never disagree with what the server checks, and the page
//! needs no request of its own to learn them (no layout shift).
//!
//! `web/index.html` writes a limit as `{{<field>.<limit>}}`: `topic.maxlength`,
//! `estimatedLessons.min`, `topic.required` (the attribute `required`, or
//! nothing). A placeholder naming no field, or a limit its field lacks, is an
//! error: the page's test renders the page the binary embeds.

use crate::domain::form::{field, Field, Kind};

/// `template` with each `{{field.limit}}` replaced by the field's limit.
pub fn render(template: &str) -> Result<String, String> {
    let mut page = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        page.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("an unclosed placeholder at {:?}", &rest[start..]))?;
        page.push_str(&value(&after[..end])?);
        rest = &after[end + 2..];
    }
    page.push_str(rest);
    Ok(page)
}

/// The text of one placeholder, `field.limit`.
fn value(placeholder: &str) -> Result<String, String> {
    let unknown = || format!("the placeholder {{{{{placeholder}}}}} names no limit of the form");
    let (name, limit) = placeholder.trim().split_once('.').ok_or_else(unknown)?;
    let field = field(name).ok_or_else(unknown)?;
    limit_of(field, limit).ok_or_else(unknown)
}

fn limit_of(field: &Field, limit: &str) -> Option<String> {
    match (limit, field.kind) {
        ("maxlength", Kind::Text { max_chars, .. }) => Some(max_chars.to_string()),
        ("minlength", Kind::Text { .. }) if field.submit.min_chars > 0 => {
            Some(field.submit.min_chars.to_string())
        }
        ("min", Kind::Integer { min, .. }) => Some(min.to_string()),
        ("max", Kind::Integer { max, .. }) => Some(max.to_string()),
        ("required", _) => Some(
            if field.submit.required {
                "required"
            } else {
                ""
            }
            .to_owned(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_the_tables_limits() {
        let page = render(
            r#"<input maxlength="{{topic.maxlength}}" {{topic.required}}> {{ estimatedLessons.min }}-{{estimatedLessons.max}}"#,
        );
        assert_eq!(
            page.as_deref(),
            Ok(r#"<input maxlength="200" required> 1-100"#)
        );
        assert_eq!(render("{{email.required}}").as_deref(), Ok(""));
    }

    #[test]
    fn a_placeholder_naming_no_limit_is_an_error() {
        for template in [
            "{{tpoic.maxlength}}",
            "{{estimatedLessons.maxlength}}",
            "{{description.minlength}}",
            "{{topic}}",
            "{{topic.maxlength",
        ] {
            assert!(render(template).is_err(), "{template}");
        }
    }

    #[test]
    fn the_embedded_page_renders_every_placeholder() {
        let page = render(super::super::INDEX_TEMPLATE).expect("the page renders");
        assert!(!page.contains("{{") && !page.contains("}}"));
    }
}

//! The form's limits, as the page serves them, as the OpenAPI document states
//! them and as the server checks them, agree: they come from one table
//! (`domain/form/fields.rs`), and a limit changed in one place only fails here.

use draftd::domain::form::{Kind, FIELDS, TOPIC};
use serde_json::{json, Map, Value};

use crate::helpers::{assert_problem, TestApp};

/// The opening tag of the element whose `id` is `id`.
fn tag<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("the page has no element #{id}"));
    let start = page[..at].rfind('<').expect("a tag opens");
    let end = at + page[at..].find('>').expect("a tag closes");
    &page[start..=end]
}

/// The value of `attribute` in `tag`, `Some("")` for a bare one.
fn attribute<'a>(tag: &'a str, attribute: &str) -> Option<&'a str> {
    let quoted = format!(" {attribute}=\"");
    if let Some(at) = tag.find(&quoted) {
        let value = &tag[at + quoted.len()..];
        return Some(&value[..value.find('"')?]);
    }
    let bare = [" ", ">", "\n"].iter().any(|after| {
        tag.contains(&format!(" {attribute}{after}"))
            || tag.contains(&format!("\n{attribute}{after}"))
    });
    bare.then_some("")
}

/// The number in `attribute` of the input `id`.
fn number(page: &str, id: &str, attribute_name: &str) -> Option<i64> {
    let text = attribute(tag(page, id), attribute_name)?;
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("#{id} {attribute_name}={text:?}")),
    )
}

/// The text of the hint `id`.
fn hint<'a>(page: &'a str, id: &str) -> &'a str {
    let open = tag(page, id);
    let start = page.find(open).expect("the tag is in the page") + open.len();
    &page[start..start + page[start..].find("</").expect("the hint closes")]
}

async fn page(app: &TestApp) -> String {
    let response = app.get_public("/").await;
    assert_eq!(response.status(), 200);
    response.text().await.expect("the page")
}

#[tokio::test]
async fn the_page_serves_the_limits_of_the_table() {
    let app = TestApp::spawn().await;
    let page = page(&app).await;
    assert!(!page.contains("{{"), "a placeholder left in the page");
    for field in FIELDS {
        let name = field.name;
        match field.kind {
            Kind::Text { max_chars, .. } => {
                let max = usize::try_from(number(&page, name, "maxlength").unwrap()).unwrap();
                assert_eq!(max, max_chars, "{name}");
                let min = number(&page, name, "minlength").unwrap_or(0);
                assert_eq!(
                    usize::try_from(min).unwrap(),
                    field.submit.min_chars,
                    "{name}"
                );
            }
            Kind::Integer { min, max } => {
                assert_eq!(number(&page, name, "min"), Some(min), "{name}");
                assert_eq!(number(&page, name, "max"), Some(max), "{name}");
                let hint = hint(&page, &format!("{name}-hint"));
                assert_eq!(hint, format!("{min} to {max}"), "{name}");
            }
            // Offered as checkboxes: the page holds fewer choices than the limit.
            Kind::List { .. } => continue,
        }
        let required = attribute(tag(&page, name), "required").is_some();
        assert_eq!(required, field.submit.required, "{name} required");
    }
    let (min, max) = (TOPIC.submit.min_chars, TOPIC.max_chars().unwrap());
    let topic = hint(&page, "topic-hint");
    assert!(
        topic.starts_with(&format!("{min} to {max} characters.")),
        "{topic}"
    );
}

/// Every limit the page states, with the OpenAPI document's word for it.
fn limits(page: &str) -> Vec<(&'static str, &'static str, i64)> {
    let mut limits = vec![];
    for field in FIELDS {
        for (attribute, keyword) in [
            ("maxlength", "maxLength"),
            ("min", "minimum"),
            ("max", "maximum"),
        ] {
            if let Some(bound) = page
                .contains(&format!(" id=\"{}\"", field.name))
                .then(|| number(page, field.name, attribute))
                .flatten()
            {
                limits.push((field.name, keyword, bound));
            }
        }
    }
    limits
}

/// Asks the table nothing: the page, the document and the checks must say
/// the same of each field, so a limit changed in any one of them fails.
#[tokio::test]
async fn the_page_the_document_and_the_checks_agree_on_every_limit() {
    let app = TestApp::spawn().await;
    let page = page(&app).await;
    let doc: Value = app.get_public("/openapi.json").await.json().await.unwrap();
    let properties = &doc["components"]["schemas"]["FormData"]["properties"];
    let limits = limits(&page);
    assert_eq!(limits.len(), 14, "8 text fields, 3 integers: {limits:?}");

    let (mut at_bounds, mut past_bounds) = (Map::new(), Map::new());
    for &(name, keyword, bound) in &limits {
        assert_eq!(properties[name][keyword], json!(bound), "{name} {keyword}");
        let (at, past) = match keyword {
            "maxLength" => {
                let chars = usize::try_from(bound).unwrap();
                (json!("ы".repeat(chars)), json!("ы".repeat(chars + 1)))
            }
            "minimum" => (json!(bound), json!(bound - 1)),
            _ => (json!(bound), json!(bound + 1)),
        };
        at_bounds.insert(name.into(), at);
        past_bounds.insert(format!("{name} {keyword}"), json!([name, past]));
    }
    let user = &app.user;
    let draft = app.new_draft(user, json!({})).await;
    let id = draft["id"].as_str().unwrap();
    // The integers' two bounds are sent one at a time, so both apply.
    for bound in ["minimum", "maximum"] {
        let mut form = at_bounds.clone();
        for &(name, keyword, value) in &limits {
            if keyword == bound {
                form.insert(name.into(), json!(value));
            }
        }
        let saved = app.patch_draft(user, id, Value::Object(form), None).await;
        assert_eq!(saved.status(), 200, "every field at its {bound}");
    }
    for (limit, past) in past_bounds {
        let (name, value) = (past[0].as_str().unwrap(), past[1].clone());
        let refused = app
            .patch_draft(user, id, json!({ name: value }), None)
            .await;
        let problem = assert_problem(refused, 422).await;
        assert!(problem["errors"][name].is_array(), "{limit}: {problem}");
    }

    // The topic's minimum and `required` apply on submit.
    let min = number(&page, "topic", "minlength").unwrap();
    let short = "R".repeat(usize::try_from(min - 1).unwrap());
    let saved = app
        .patch_draft(user, id, json!({"topic": short}), None)
        .await;
    assert_eq!(saved.status(), 200);
    let refused = app.draft_action(user, id, "submit").await;
    let problem = assert_problem(refused, 422).await;
    let expected = format!("must be at least {min} characters");
    assert_eq!(problem["errors"]["topic"], json!([expected]));
    let saved = app
        .patch_draft(user, id, json!({"topic": null}), None)
        .await;
    assert_eq!(saved.status(), 200);
    let problem = assert_problem(app.draft_action(user, id, "submit").await, 422).await;
    assert_eq!(problem["errors"]["topic"], json!(["is required"]));
    assert!(attribute(tag(&page, "topic"), "required").is_some());
}

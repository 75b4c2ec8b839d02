//! The OpenAPI document lists every status an operation can answer: a client
//! generated from it (openapi-python-client) raises on any other. Every
//! operation of the served document is sent the refusals every route shares.

use reqwest::header::AUTHORIZATION;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::erase::{erase_to_end, member_of, Whose};
use crate::helpers::TestApp;
use crate::tus_steps::{metadata, TUS};

/// One operation of the document.
struct Operation {
    method: Method,
    /// The path template, as the document writes it.
    template: String,
    operation: Value,
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    /// Every status the operation lists.
    fn listed(&self) -> Vec<String> {
        self.operation["responses"]
            .as_object()
            .map(|responses| responses.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn lists(&self, status: u16) -> bool {
        self.listed().contains(&status.to_string())
    }

    fn is_authenticated(&self) -> bool {
        self.operation["security"] != json!([])
    }

    fn is_admin(&self) -> bool {
        self.template.starts_with("/api/v1/admin/")
    }

    /// The request, its path parameters random UUIDs, its required headers
    /// and its body (when it takes one) minimal and valid; no credentials.
    fn request(&self, app: &TestApp) -> RequestBuilder {
        let mut path = self.template.clone();
        let mut request_headers = Vec::new();
        for parameter in self.operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = parameter["name"].as_str().unwrap_or_default();
            match parameter["in"].as_str() {
                Some("path") => {
                    path = path.replace(&format!("{{{name}}}"), &Uuid::new_v4().to_string());
                }
                Some("header") if parameter["required"] == json!(true) => {
                    request_headers.push((name.to_owned(), header_value(name)));
                }
                _ => {}
            }
        }
        let mut request = app
            .client
            .request(self.method.clone(), format!("{}{path}", app.address));
        for (name, value) in request_headers {
            request = request.header(name, value);
        }
        let content = &self.operation["requestBody"]["content"];
        match content.as_object().and_then(|types| types.keys().next()) {
            None => request,
            Some(media_type) => with_body(request, media_type, &self.template),
        }
    }
}

/// A valid value of a required header parameter.
fn header_value(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "tus-resumable" => TUS.into(),
        "upload-length" => "5".into(),
        "upload-offset" => "0".into(),
        "upload-metadata" => metadata("notes.txt", "text/plain"),
        "x-http-method-override" => "PATCH".into(),
        other => panic!("no value known for the required header {other}: add one"),
    }
}

/// A minimal valid body of `media_type` for the operation at `template`.
fn with_body(request: RequestBuilder, media_type: &str, template: &str) -> RequestBuilder {
    match media_type {
        "application/json" if template == "/api/v1/admin/erase" => {
            request.json(&json!({ "userId": Uuid::new_v4() }))
        }
        "application/json" => request.json(&json!({ "formData": {} })),
        "application/merge-patch+json" => request
            .header("content-type", media_type)
            .body(json!({ "formData": { "topic": "Rust" } }).to_string()),
        "multipart/form-data" => {
            let part = reqwest::multipart::Part::bytes(b"hello".to_vec())
                .file_name("notes.txt")
                .mime_str("text/plain")
                .expect("valid mime");
            request.multipart(reqwest::multipart::Form::new().part("file", part))
        }
        "application/offset+octet-stream" => request
            .header("content-type", media_type)
            .body(b"hello".to_vec()),
        other => panic!("no body known for {other} ({template}): add one"),
    }
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            found.push(Operation {
                method: method.to_uppercase().parse().expect("an HTTP method"),
                template: template.clone(),
                operation: operation.clone(),
            });
        }
    }
    found
}

/// Sends `request`; names its status if the operation does not list it, or
/// if it is not `expected` (when the refusal must apply).
async fn check(
    operation: &Operation,
    case: &str,
    request: RequestBuilder,
    expected: Option<u16>,
) -> Option<String> {
    let status = request
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16();
    if expected.is_some_and(|expected| expected != status) {
        return Some(format!(
            "{} answered {status} with {case}, not {expected:?}",
            operation.name()
        ));
    }
    (!operation.lists(status)).then(|| {
        format!(
            "{} answered {status} with {case}; it lists {:?}",
            operation.name(),
            operation.listed()
        )
    })
}

#[tokio::test]
async fn every_operation_lists_the_refusals_every_route_can_answer() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get_public("/openapi.json").await.json().await.unwrap();
    let operations = operations(&doc);
    assert!(operations.len() >= 30, "{} operations", operations.len());

    // A subject whose erase has finished, holding a token issued before.
    let erased = member_of(Uuid::new_v4(), Uuid::new_v4());
    app.new_draft(&erased, json!({})).await;
    let state = erase_to_end(&app, Whose::User(erased.id)).await;
    assert_eq!(state["status"], "done", "{state}");

    let bearer = |token: &str| format!("Bearer {token}");
    let mut unlisted = Vec::new();
    for operation in &operations {
        // The refusals every authenticated route shares, where they apply.
        let shared = operation.is_authenticated() && operation.template.starts_with("/api/");
        let refused = |status: u16| shared.then_some(status);
        let twice = operation
            .request(&app)
            .header(AUTHORIZATION, bearer(&app.user.token))
            .header(AUTHORIZATION, bearer(&app.user.token));
        unlisted.extend(check(operation, "two Authorization headers", twice, refused(400)).await);
        let forged = operation
            .request(&app)
            .header(AUTHORIZATION, bearer("not.a.token"));
        unlisted.extend(check(operation, "a malformed token", forged, refused(401)).await);
        let as_erased = operation
            .request(&app)
            .header(AUTHORIZATION, bearer(&erased.token));
        // An erased subject still reads; its writes, and any admin route, are 403.
        let forbidden = operation.is_admin() || !operation.method.is_safe();
        let expected = refused(403).filter(|_| forbidden);
        unlisted.extend(check(operation, "an erased subject's token", as_erased, expected).await);
    }
    assert!(
        unlisted.is_empty(),
        "unlisted statuses:\n{}",
        unlisted.join("\n")
    );
}

//! HTTP protocol details a security review asked for: what a client can make
//! the service hold or say, and how strictly it reads the protocol.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use draftd::startup::Application;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{AUTHORIZATION, HOST, IF_MATCH};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use uuid::Uuid;

use crate::helpers::{
    assert_problem, base_config, create_database, wait_until, ScratchDir, TestApp, SECRET,
};
use crate::servers::free_port;

// --- metrics ---------------------------------------------------------------

/// The label sets of `draftd_http_requests_total`.
async fn request_series(app: &TestApp) -> (String, BTreeSet<String>) {
    let text = app.get_public("/metrics").await.text().await.unwrap();
    let series = text
        .lines()
        .filter_map(|line| line.strip_prefix("draftd_http_requests_total{"))
        .filter_map(|line| line.split_once('}').map(|(labels, _)| labels.to_owned()))
        .collect();
    (text, series)
}

/// Sends `count` requests with made-up methods to made-up and real paths;
/// returns the made-up words.
async fn probe(app: &TestApp, count: usize) -> Vec<String> {
    let mut words = Vec::new();
    for i in 0..count {
        let word = format!("zq{}", &Uuid::new_v4().simple().to_string()[..12]);
        let method = match i % 3 {
            0 => word.to_uppercase(),
            1 => format!("probe{word}"),
            _ => "get".to_owned(), // not GET: methods are case-sensitive
        };
        let path = match i % 4 {
            0 => format!("/{word}"),
            1 => format!("/api/v1/{word}/x"),
            2 => "/healthz".to_owned(),
            _ => format!("/api/v1/drafts/{}", Uuid::new_v4()),
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        app.client
            .request(method, format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        app.client
            .get(format!("{}/{word}/{}", app.address, Uuid::new_v4()))
            .send()
            .await
            .unwrap();
        words.push(word);
    }
    words
}

#[tokio::test]
async fn metrics_labels_come_from_a_fixed_set_whatever_a_client_sends() {
    let app = TestApp::spawn().await;
    // The first probes may add the few series of "other" and "unmatched".
    probe(&app, 12).await;
    let (_, before) = request_series(&app).await;
    let words = probe(&app, 60).await;
    let (text, after) = request_series(&app).await;

    for word in &words {
        assert!(!text.to_lowercase().contains(word), "{word} became a label");
    }
    // Other tests of this process add their own few series meanwhile; 120
    // probes adding a series each would be far more.
    assert!(
        after.len() <= before.len() + 10,
        "{} series, then {}",
        before.len(),
        after.len()
    );
    let methods = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
    ];
    for labels in &after {
        let method = labels
            .split(',')
            .find_map(|label| label.strip_prefix("method=\""))
            .and_then(|m| m.strip_suffix('"'))
            .unwrap_or_default();
        assert!(methods.contains(&method), "{labels}");
        assert!(
            labels.contains("route=\"/") || labels.contains("route=\"unmatched\""),
            "{labels}"
        );
    }
    assert!(text.contains(r#"method="other",route="unmatched",status="404""#));
    assert!(text.contains(r#"method="other",route="/healthz",status="405""#));
}

// --- the page ----------------------------------------------------------------

#[tokio::test]
async fn the_page_cannot_be_framed_and_sends_no_referrer() {
    let app = TestApp::spawn().await;
    let page = app.get_public("/").await;
    assert_eq!(page.status(), 200);
    let header = |name: &str| {
        page.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let csp = header("content-security-policy");
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert!(directives.contains(&"frame-ancestors 'none'"), "{csp}");
    assert!(directives.contains(&"base-uri 'none'"), "{csp}");
    assert!(directives.contains(&"default-src 'self'"), "{csp}");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-frame-options"), "DENY");
}

#[tokio::test]
async fn the_page_answers_head_as_get_without_a_body() {
    let app = TestApp::spawn().await;
    let head = app
        .client
        .head(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let content_type = head.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(head.bytes().await.unwrap().is_empty());
}

// --- dev mode ----------------------------------------------------------------

#[tokio::test]
async fn dev_mode_refuses_to_start_on_a_non_loopback_address() {
    let mut config = base_config();
    config.database_url = create_database(&config.database_url).await;
    let uploads = ScratchDir::new("test");
    config.upload_dir = uploads.to_path_buf();
    config.janitor_cron = draftd::jobs::OFF.into();
    config.orphan_sweep_cron = draftd::jobs::OFF.into();
    config.workers = 1;
    config.dev_mode = true;
    for bind in ["0.0.0.0:0", "[::]:0"] {
        config.bind = bind.into();
        let error = Application::build(&config)
            .await
            .err()
            .unwrap_or_else(|| panic!("dev mode started on {bind}"));
        assert!(format!("{error:#}").contains("loopback"), "{error:#}");
    }
}

async fn dev_token_with_host(app: &TestApp, host: &str) -> Response {
    app.client
        .get(format!("{}/api/v1/dev/token", app.address))
        .header(HOST, host)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn dev_mode_answers_only_requests_addressed_to_a_loopback_name() {
    let app = TestApp::spawn_with(|c| c.dev_mode = true).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "127.3.2.1".to_owned(),
        "LOCALHOST".to_owned(),
    ] {
        let answer = dev_token_with_host(&app, &host).await;
        assert_eq!(answer.status(), 200, "Host: {host}");
    }
    for host in [
        "evil.example".to_owned(),
        format!("evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("0.0.0.0:{port}"),
        format!("192.168.1.10:{port}"),
    ] {
        let refused = dev_token_with_host(&app, &host).await;
        assert_problem(refused, 403).await;
        let health = app
            .client
            .get(format!("{}/healthz", app.address))
            .header(HOST, &host)
            .send()
            .await
            .unwrap();
        assert_problem(health, 403).await;
    }

    // Outside dev mode any name may reach the service (a proxy's, say).
    let plain = TestApp::spawn().await;
    let health = plain
        .client
        .get(format!("{}/healthz", plain.address))
        .header(HOST, "draftd.example")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

// --- tokens and the Authorization header ------------------------------------

/// A token over `header` and `claims`, HMAC-signed with the test secret.
fn hand_signed(header: &Value, claims: &Value) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{signing_input}.{signature}")
}

async fn open_draft(app: &TestApp, authorization: &[&str]) -> Response {
    let mut request = app.client.post(format!("{}/api/v1/drafts", app.address));
    for value in authorization {
        request = request.header(AUTHORIZATION, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_token_with_critical_header_parameters_is_refused() {
    let app = TestApp::spawn().await;
    let claims = json!({
        "sub": app.user.id, "org_id": app.user.org,
        "exp": chrono::Utc::now().timestamp() + 600,
    });
    let plain = hand_signed(&json!({"alg": "HS256", "typ": "JWT"}), &claims);
    assert_eq!(
        open_draft(&app, &[&format!("Bearer {plain}")])
            .await
            .status(),
        201
    );

    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["exp".into()]);
    let with_crit = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let tokens = [
        with_crit,
        hand_signed(
            &json!({"alg": "HS256", "crit": ["b64"], "b64": true}),
            &claims,
        ),
        hand_signed(&json!({"alg": "HS256", "crit": []}), &claims),
        hand_signed(&json!({"alg": "HS256", "crit": null}), &claims),
    ];
    for token in tokens {
        let refused = open_draft(&app, &[&format!("Bearer {token}")]).await;
        let problem = assert_problem(refused, 401).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("crit"),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn the_auth_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let answer = open_draft(&app, &[&format!("{scheme} {}", app.user.token)]).await;
        assert_eq!(answer.status(), 201, "{scheme}");
    }
    for value in [
        format!("Basic {}", app.user.token),
        format!("Bearer{}", app.user.token),
        "bearer ".to_owned(),
    ] {
        assert_problem(open_draft(&app, &[&value]).await, 401).await;
    }
}

#[tokio::test]
async fn two_authorization_headers_are_a_400_problem() {
    let app = TestApp::spawn().await;
    let own = format!("Bearer {}", app.user.token);
    let other = format!("Bearer {}", crate::helpers::new_user().token);
    for pair in [[&own, &other], [&own, &own], [&own, &"Bearer x".to_owned()]] {
        let refused = open_draft(&app, &[pair[0], pair[1]]).await;
        let problem = assert_problem(refused, 400).await;
        assert_eq!(problem["type"], "urn:draftd:problem:bad-request");
    }
    let listed = app.get_json(&app.user, "/api/v1/drafts").await;
    let drafts = listed.get("items").unwrap_or(&listed);
    assert_eq!(drafts.as_array().map(Vec::len), Some(0), "nothing opened");
}

// --- If-Match ----------------------------------------------------------------

async fn patch_with(app: &TestApp, id: &str, topic: &str, if_match: &[&str]) -> Response {
    let mut request = app
        .request(Method::PATCH, &format!("/api/v1/drafts/{id}"), &app.user)
        .header("content-type", "application/merge-patch+json")
        .body(json!({ "formData": { "topic": topic } }).to_string());
    for value in if_match {
        request = request.header(IF_MATCH, *value);
    }
    request.send().await.unwrap()
}

/// `If-Match` on a draft at version 1, wherever it is kept.
async fn if_match_lists_and_strong_comparison(app: &TestApp) {
    let draft = app.new_draft(&app.user, json!({})).await;
    let id = draft["id"].as_str().unwrap();
    assert_eq!(draft["version"], 1);

    let saved = patch_with(app, id, "First list", &[r#""7", "1""#]).await;
    assert_eq!(
        saved.status(),
        200,
        "a list holding the current tag matches"
    );
    assert_eq!(saved.headers()["etag"], r#""2""#);

    for refused in [
        r#"W/"2""#,
        r#""+2""#,
        r#""02""#,
        r#""1", W/"2""#,
        r#""1", "3""#,
        "2",
        r#""2" "3""#,
    ] {
        let stale = patch_with(app, id, "Must not land", &[refused]).await;
        let problem = assert_problem(stale, 412).await;
        assert_eq!(problem["currentVersion"], 2, "If-Match: {refused}");
    }
    let unchanged = app.draft(&app.user, id).await;
    assert_eq!(unchanged["version"], 2);
    assert_eq!(unchanged["formData"]["topic"], "First list");

    let any = patch_with(app, id, "Any version", &["*"]).await;
    assert_eq!(any.status(), 200);
    // Two If-Match fields are one list.
    let two_fields = patch_with(app, id, "Second list", &[r#""9""#, r#""3""#]).await;
    assert_eq!(two_fields.status(), 200);
    assert_eq!(app.draft(&app.user, id).await["version"], 4);
}

#[tokio::test]
async fn if_match_takes_a_list_and_compares_strongly_in_redis() {
    let app = TestApp::spawn().await;
    if_match_lists_and_strong_comparison(&app).await;
}

#[tokio::test]
async fn if_match_takes_a_list_and_compares_strongly_in_postgres() {
    let app = TestApp::spawn_without_redis().await;
    if_match_lists_and_strong_comparison(&app).await;
}

// --- readiness ---------------------------------------------------------------

#[tokio::test]
async fn readiness_says_up_or_down_and_names_no_driver_error() {
    let app = TestApp::spawn_without_redis().await;
    let body = app.readiness(503).await;
    assert_eq!(
        body,
        json!({"status": "unavailable", "checks": {"redis": "down", "postgres": "up"}})
    );
}

// --- malformed requests and the log ------------------------------------------

/// The service's own binary, `draftd serve`, its stdout lines collected.
struct Served {
    child: tokio::process::Child,
    address: String,
    lines: Arc<Mutex<Vec<String>>>,
    _uploads: ScratchDir,
}

impl Served {
    async fn start() -> Served {
        let config = base_config();
        let port = free_port();
        let uploads = ScratchDir::new("test");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_draftd"))
            .arg("serve")
            .env("DRAFTD_BIND", format!("127.0.0.1:{port}"))
            .env(
                "DRAFTD_DATABASE_URL",
                create_database(&config.database_url).await,
            )
            .env("DRAFTD_REDIS_URL", &config.redis_url)
            .env("DRAFTD_JWT_SECRET", SECRET)
            .env("DRAFTD_DEV_MODE", "false")
            .env("DRAFTD_UPLOAD_DIR", &*uploads)
            .env("DRAFTD_JANITOR_CRON", "off")
            .env("DRAFTD_ORPHAN_SWEEP_CRON", "off")
            .env("DRAFTD_WORKERS", "1")
            .env("DRAFTD_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("draftd starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout piped");
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let address = format!("127.0.0.1:{port}");
        let url = format!("http://{address}/healthz");
        wait_until("the service starts", || async {
            reqwest::get(&url).await.is_ok()
        })
        .await;
        Served {
            child,
            address,
            lines,
            _uploads: uploads,
        }
    }

    /// The log lines so far, as JSON.
    fn log(&self) -> Vec<Value> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| json!({"raw": line})))
            .collect()
    }
}

/// Sends `head` on a connection of its own; returns the answer's first line.
async fn send_raw(address: &str, head: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(head).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A request's lines carry its id; its last line, `close`, its route, status
/// and time: the access log.
#[tokio::test]
async fn a_request_ends_with_one_access_line() {
    let served = Served::start().await;
    let response = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/drafts/not-a-uuid",
            served.address
        ))
        .header("x-request-id", "access-line-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let closes = || -> Vec<Value> {
        served
            .log()
            .into_iter()
            .filter(|line| line["span"]["request_id"] == "access-line-1")
            .filter(|line| line["message"] == "close")
            .collect()
    };
    wait_until("the request's close line", || async {
        !closes().is_empty()
    })
    .await;
    let closes = closes();
    let [close] = closes.as_slice() else {
        panic!("one close line: {closes:#?}");
    };
    assert_eq!(close["span"]["method"], "GET");
    assert_eq!(close["route"], "/api/v1/drafts/{id}");
    assert_eq!(close["status"], 401);
    assert!(
        close["elapsed_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{close}"
    );
}

#[tokio::test]
async fn malformed_requests_log_no_error_and_one_warning_a_second() {
    let mut served = Served::start().await;
    let heads: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not HTTP\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
    ];
    let started = Instant::now();
    for round in 0..40 {
        let first_line = send_raw(&served.address, heads[round % heads.len()]).await;
        assert!(first_line.starts_with("HTTP/1.1 400"), "{first_line:?}");
    }
    let flood_secs = started.elapsed().as_secs();
    let protocol_lines = |log: &[Value]| -> Vec<Value> {
        log.iter()
            .filter(|line| {
                let target = line["target"].as_str().unwrap_or_default();
                target.starts_with("actix_http")
                    || line["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("protocol error"))
            })
            .cloned()
            .collect()
    };
    wait_until("a protocol warning is logged", || async {
        !protocol_lines(&served.log()).is_empty()
    })
    .await;
    // Any line still to come from the last connections.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = reqwest::get(format!("http://{}/healthz", served.address))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "still serving");
    let _ = served.child.kill().await;

    let log = served.log();
    let errors: Vec<&Value> = log.iter().filter(|l| l["level"] == "ERROR").collect();
    assert!(errors.is_empty(), "ERROR lines: {errors:#?}");
    let reported = protocol_lines(&log);
    assert!(
        reported.len() as u64 <= flood_secs + 2,
        "{} lines for 40 malformed requests in {flood_secs} s: {reported:#?}",
        reported.len()
    );
    for line in &reported {
        assert_eq!(line["level"], "WARN", "{line}");
        assert!(line["held_back"].is_u64(), "{line}");
    }
}

// --- the OpenAPI document ------------------------------------------------------

#[tokio::test]
async fn the_openapi_document_names_its_server_and_which_operations_are_public() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get_public("/openapi.json").await.json().await.unwrap();
    assert!(
        doc["servers"].as_array().is_some_and(|s| !s.is_empty()),
        "no servers"
    );
    let public = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security = &operation["security"];
            // tus discovery: a browser's preflight carries no token.
            if public.contains(&path.as_str()) || method == "options" {
                assert_eq!(security, &json!([]), "{method} {path}");
            } else {
                assert_eq!(security, &json!([{"bearer": []}]), "{method} {path}");
            }
            assert!(
                operation["operationId"].is_string(),
                "{method} {path} has no operationId"
            );
        }
    }
}

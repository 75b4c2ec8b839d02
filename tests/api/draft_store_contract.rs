//! The draft stores' contract: each test is written once, over `DraftBackend`,
//! and runs against `RedisDrafts`, `PgDrafts` and the `Fallback` of the two,
//! each on the real server (the shared Redis, the test's own Postgres
//! database). Then the steps only Redis takes, and the fallback during an
//! outage of its primary.

use std::collections::HashSet;
use std::time::Duration;

use draftd::app::drafts::Fallback;
use draftd::domain::draft::{
    Autosave, CreateOutcome, FreezeOutcome, NewDraft, PatchOutcome, Return, Saved,
};
use draftd::domain::ids::DraftId;
use draftd::domain::{
    Draft, DraftBackend, DraftLimits, DraftStore, FormPatch, Idempotency, IdempotencyKey, Owner,
    Precondition,
};
use draftd::stores::postgres::{PgDrafts, Postgres};
use draftd::stores::redis::{RedisDrafts, RedisSettings};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::helpers::TestApp;

/// Small enough to reach the cap in a test.
const LIMITS: DraftLimits = DraftLimits {
    ttl: Duration::from_secs(3600),
    max_per_user: 3,
    autosaves_per_window: 10_000,
    rate_window: Duration::from_secs(60),
};

/// Nothing listens there: a Redis that is down.
const DEAD_REDIS: &str = "redis://127.0.0.1:1";

/// The stores on a test app's servers (the app keeps its database alive).
struct Stores {
    redis: RedisDrafts,
    postgres: PgDrafts,
    app: TestApp,
}

impl Stores {
    async fn new() -> Stores {
        let app = TestApp::spawn().await;
        let redis = redis_at(&app, &app.config.redis_url.clone());
        let db = Postgres::connect(
            &app.config.database_url,
            None,
            4,
            app.config.store_timeout(),
            false,
        )
        .expect("Postgres pool");
        Stores {
            redis,
            postgres: PgDrafts::new(db, LIMITS),
            app,
        }
    }

    fn fallback(&self) -> Fallback<RedisDrafts, PgDrafts> {
        Fallback::new(self.redis.clone(), self.postgres.clone())
    }
}

fn redis_at(app: &TestApp, url: &str) -> RedisDrafts {
    let settings = RedisSettings {
        url,
        cluster: app.config.redis_cluster,
        tls_roots: None,
        pool_size: 4,
        timeout: app.config.store_timeout(),
    };
    RedisDrafts::connect(&settings, LIMITS).expect("Redis pool")
}

/// What a store under test does where stores may differ.
#[derive(Clone, Copy)]
struct Profile {
    name: &'static str,
    /// Whether a create's idempotency key is kept (Postgres ignores it).
    keeps_keys: bool,
}

const REDIS: Profile = Profile {
    name: "redis",
    keeps_keys: true,
};
const POSTGRES: Profile = Profile {
    name: "postgres",
    keeps_keys: false,
};
/// Redis answers: new drafts open there.
const FALLBACK: Profile = Profile {
    name: "fallback",
    keeps_keys: true,
};

fn owner() -> Owner {
    Owner::of(Uuid::new_v4().into(), Uuid::new_v4().into())
}

/// The same user in another organization: someone else.
fn elsewhere(owner: Owner) -> Owner {
    Owner::of(owner.user_id, Uuid::new_v4().into())
}

fn form(value: Value) -> FormPatch {
    let Value::Object(fields) = value else {
        panic!("a form is an object");
    };
    FormPatch::parse(fields).expect("a valid form")
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

async fn open<B: DraftBackend>(store: &B, owner: Owner, new: NewDraft<'_>) -> CreateOutcome {
    store.create(owner, new).await.expect("create answered")
}

async fn create<B: DraftBackend>(store: &B, owner: Owner, fields: Value) -> CreateOutcome {
    let form = form(fields);
    open(
        store,
        owner,
        NewDraft {
            form: &form,
            idempotency: None,
        },
    )
    .await
}

async fn created<B: DraftBackend>(store: &B, owner: Owner, fields: Value) -> Draft {
    match create(store, owner, fields).await {
        CreateOutcome::Created(draft) => draft,
        _ => panic!("no draft created"),
    }
}

/// Opens an empty draft under `key`.
async fn keyed<B: DraftBackend>(store: &B, owner: Owner, key: &Idempotency) -> CreateOutcome {
    let form = FormPatch::default();
    open(
        store,
        owner,
        NewDraft {
            form: &form,
            idempotency: Some(key),
        },
    )
    .await
}

async fn get<B: DraftBackend>(store: &B, owner: Owner, id: DraftId) -> Option<Draft> {
    store.get(owner, id).await.expect("get answered")
}

/// An autosave of `fields` if the draft is at one of `versions` (any, if
/// `None`).
async fn patch_if<B: DraftBackend>(
    store: &B,
    (owner, id): (Owner, DraftId),
    fields: Value,
    versions: Option<Vec<u64>>,
) -> PatchOutcome {
    let patch = form(fields);
    let save = Autosave {
        id,
        patch: &patch,
        precondition: &versions.map_or(Precondition::None, Precondition::AnyOf),
        answer: Return::Representation,
    };
    store.patch(owner, save).await.expect("patch answered")
}

/// An unconditional autosave.
async fn autosave<B: DraftBackend>(store: &B, owner: Owner, id: DraftId, v: Value) -> PatchOutcome {
    patch_if(store, (owner, id), v, None).await
}

/// The version a patch saved at; a panic for any other outcome.
fn saved(outcome: PatchOutcome) -> u64 {
    match outcome {
        PatchOutcome::Saved(saved) => saved.version(),
        _ => panic!("the patch was not saved"),
    }
}

fn stale(outcome: &PatchOutcome) -> Option<u64> {
    match outcome {
        PatchOutcome::Stale { current } => Some(*current),
        _ => None,
    }
}

async fn listed<B: DraftBackend>(store: &B, owner: Owner) -> HashSet<DraftId> {
    let drafts = store.list(owner).await.expect("list answered");
    drafts.iter().map(|draft| draft.id).collect()
}

async fn created_then_got<B: DraftBackend>(store: &B, profile: Profile) {
    let name = profile.name;
    let owner = owner();
    let fields = json!({"topic": "Rust for analysts", "language": "ru"});
    let draft = created(store, owner, fields.clone()).await;
    assert_eq!(draft.version, 1, "{name}");
    assert_eq!(draft.form_data, object(fields.clone()), "{name}");
    assert!(store.holds(&draft), "{name}");
    let got = get(store, owner, draft.id).await.expect("the new draft");
    assert_eq!(
        (got.id, got.version, got.organization_id),
        (draft.id, 1, owner.organization_id),
        "{name}"
    );
    assert_eq!(got.form_data, object(fields), "{name}");
    let stranger = Owner::of(Uuid::new_v4().into(), owner.organization_id);
    for other in [stranger, elsewhere(owner)] {
        assert!(get(store, other, draft.id).await.is_none(), "{name}");
    }
    assert!(get(store, owner, DraftId::new()).await.is_none(), "{name}");
}

async fn create_stops_at_the_cap<B: DraftBackend>(store: &B, profile: Profile) {
    let name = profile.name;
    let owner = owner();
    let mut drafts = Vec::new();
    for _ in 0..LIMITS.max_per_user {
        drafts.push(created(store, owner, json!({})).await);
    }
    let refused = create(store, owner, json!({})).await;
    assert!(
        matches!(refused, CreateOutcome::TooManyDrafts),
        "{name}: one past the cap"
    );
    // The cap is the user's, in every organization.
    let refused = create(store, elsewhere(owner), json!({})).await;
    assert!(
        matches!(refused, CreateOutcome::TooManyDrafts),
        "{name}: the same user elsewhere"
    );
    created(
        store,
        Owner::of(Uuid::new_v4().into(), owner.organization_id),
        json!({}),
    )
    .await;
    assert!(store
        .remove(owner, &drafts[0], false)
        .await
        .expect("remove"));
    created(store, owner, json!({})).await;
}

async fn create_under_a_key<B: DraftBackend>(store: &B, profile: Profile) {
    let name = profile.name;
    let owner = owner();
    let key = Idempotency {
        key: IdempotencyKey::parse(Uuid::new_v4().to_string().as_bytes()).expect("a key"),
        replaces: None,
    };
    let CreateOutcome::Created(first) = keyed(store, owner, &key).await else {
        panic!("{name}: the first create under a key opens a draft");
    };
    let again = keyed(store, owner, &key).await;
    match again {
        CreateOutcome::Existing(id) if profile.keeps_keys => assert_eq!(id, first.id),
        CreateOutcome::Created(second) if !profile.keeps_keys => {
            assert_ne!(second.id, first.id, "{name}");
        }
        _ => panic!("{name}: the key kept or not, as the store says"),
    }
    // Another user's key of the same name names nothing of this one's.
    let other = keyed(store, elsewhere(owner), &key).await;
    assert!(
        matches!(other, CreateOutcome::Created(ref draft) if draft.id != first.id),
        "{name}"
    );
}

async fn list_holds_the_owners_live_drafts<B: DraftBackend>(store: &B, profile: Profile) {
    let name = profile.name;
    let owner = owner();
    let first = created(store, owner, json!({"topic": "First one"})).await;
    let second = created(store, owner, json!({})).await;
    created(store, elsewhere(owner), json!({})).await;
    created(
        store,
        Owner::of(Uuid::new_v4().into(), owner.organization_id),
        json!({}),
    )
    .await;
    let both: HashSet<DraftId> = [first.id, second.id].into();
    assert_eq!(listed(store, owner).await, both, "{name}");
    assert!(store.remove(owner, &first, false).await.expect("remove"));
    assert_eq!(listed(store, owner).await, [second.id].into(), "{name}");
}

async fn patch_merges_per_field<B: DraftBackend>(store: &B, profile: Profile) {
    let name = profile.name;
    let owner = owner();
    let draft = created(
        store,
        owner,
        json!({"topic": "Rust for analysts", "language": "ru"}),
    )
    .await;
    let set_language = json!({"language": "en"});
    let version = saved(autosave(store, owner, draft.id, set_language.clone()).await);
    assert_eq!(version, 2, "{name}");
    let got = get(store, owner, draft.id).await.expect("the draft");
    let merged = object(json!({"topic": "Rust for analysts", "language": "en"}));
    assert_eq!((got.version, got.form_data), (2, merged), "{name}");
    // A patch that changes nothing keeps the version.
    let version = saved(autosave(store, owner, draft.id, set_language).await);
    assert_eq!(version, 2, "{name}: an unchanged form");
    let version = saved(autosave(store, owner, draft.id, json!({"topic": null})).await);
    let got = get(store, owner, draft.id).await.expect("the draft");
    let removed = object(json!({"language": "en"}));
    assert_eq!((version, got.form_data), (3, removed), "{name}");
}

async fn patch_holds_to_if_match<B: DraftBackend>(store: &B, profile: Profile) {
    let name = profile.name;
    let owner = owner();
    let draft = created(store, owner, json!({"topic": "Rust for analysts"})).await;
    let topic = || json!({"topic": "Go for analysts"});
    for refused in [vec![2, 7], Vec::new()] {
        let outcome = patch_if(store, (owner, draft.id), topic(), Some(refused)).await;
        assert_eq!(stale(&outcome), Some(1), "{name}");
    }
    let unchanged = get(store, owner, draft.id).await.expect("the draft");
    assert_eq!(
        unchanged.form_data, draft.form_data,
        "{name}: a stale write"
    );
    let outcome = patch_if(store, (owner, draft.id), topic(), Some(vec![3, 1])).await;
    assert_eq!(saved(outcome), 2, "{name}");
}

async fn patch_of_a_missing_or_foreign_draft<B: DraftBackend>(store: &B, profile: Profile) {
    let name = profile.name;
    let owner = owner();
    let draft = created(store, owner, json!({"topic": "Rust for analysts"})).await;
    let stranger = Owner::of(Uuid::new_v4().into(), owner.organization_id);
    let tries = [
        (owner, DraftId::new()),
        (stranger, draft.id),
        (elsewhere(owner), draft.id),
    ];
    for (who, id) in tries {
        let outcome = autosave(store, who, id, json!({"topic": "Taken over"})).await;
        assert!(matches!(outcome, PatchOutcome::Missing), "{name}");
    }
    let got = get(store, owner, draft.id).await.expect("the draft");
    assert_eq!((got.version, got.form_data), (1, draft.form_data), "{name}");
}

async fn touch_keeps_a_draft_alive_unchanged<B: DraftBackend>(store: &B, profile: Profile) {
    let name = profile.name;
    let owner = owner();
    let draft = created(store, owner, json!({"topic": "Rust for analysts"})).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(store.touch(owner, &draft).await.expect("touch"), "{name}");
    let got = get(store, owner, draft.id).await.expect("the draft");
    assert!(got.expires_at > draft.expires_at, "{name}: its TTL moved");
    assert_eq!(
        (got.version, got.updated_at),
        (draft.version, draft.updated_at),
        "{name}: unchanged"
    );
    let touched = store.touch(elsewhere(owner), &draft).await.expect("touch");
    assert!(!touched, "{name}: someone else's");
}

async fn remove_discards<B: DraftBackend>(store: &B, profile: Profile) {
    let name = profile.name;
    let owner = owner();
    let draft = created(store, owner, json!({})).await;
    let foreign = store.remove(elsewhere(owner), &draft, false).await;
    assert!(!foreign.expect("remove"), "{name}: someone else's");
    assert!(get(store, owner, draft.id).await.is_some(), "{name}");
    assert!(
        store.remove(owner, &draft, false).await.expect("remove"),
        "{name}"
    );
    assert!(get(store, owner, draft.id).await.is_none(), "{name}");
    assert!(listed(store, owner).await.is_empty(), "{name}");
    let again = store.remove(owner, &draft, false).await.expect("remove");
    assert!(!again, "{name}: removed already");
    assert!(!store.touch(owner, &draft).await.expect("touch"), "{name}");
}

/// One test for each contract test named: it runs against every store, on
/// one test app's servers.
macro_rules! every_store {
    ($($check:ident),* $(,)?) => {
        mod every_store {$(
            #[tokio::test]
            async fn $check() {
                let stores = super::Stores::new().await;
                super::$check(&stores.redis, super::REDIS).await;
                super::$check(&stores.postgres, super::POSTGRES).await;
                super::$check(&stores.fallback(), super::FALLBACK).await;
            }
        )*}
    };
}

every_store!(
    created_then_got,
    create_stops_at_the_cap,
    create_under_a_key,
    list_holds_the_owners_live_drafts,
    patch_merges_per_field,
    patch_holds_to_if_match,
    patch_of_a_missing_or_foreign_draft,
    touch_keeps_a_draft_alive_unchanged,
    remove_discards,
);

#[tokio::test]
async fn redis_freeze_makes_a_draft_read_only_until_thawed() {
    let stores = Stores::new().await;
    let redis = &stores.redis;
    let owner = owner();
    let draft = created(redis, owner, json!({"topic": "Rust for analysts"})).await;
    let freeze = |version| redis.freeze(owner, draft.id, version);
    assert!(matches!(freeze(2).await, Ok(FreezeOutcome::Changed)));
    assert!(matches!(freeze(1).await, Ok(FreezeOutcome::Frozen)));
    let outcome = autosave(redis, owner, draft.id, json!({"language": "en"})).await;
    assert!(matches!(outcome, PatchOutcome::Submitted));
    assert!(matches!(
        freeze(1).await,
        Ok(FreezeOutcome::AlreadySubmitted)
    ));
    let missing = redis.freeze(owner, DraftId::new(), 1).await;
    assert!(matches!(missing, Ok(FreezeOutcome::Missing)));
    redis.thaw(owner, draft.id, 1).await.expect("thaw");
    let outcome = autosave(redis, owner, draft.id, json!({"language": "en"})).await;
    assert_eq!(saved(outcome), 2);
}

#[tokio::test]
async fn redis_records_the_course_and_the_discard() {
    let stores = Stores::new().await;
    let redis = &stores.redis;
    let owner = owner();
    let draft = created(redis, owner, json!({})).await;
    let course = draftd::domain::course::course_id_for(draft.id);
    redis
        .attach_course(owner, draft.id, course, "a-slug")
        .await
        .expect("attach");
    let got = get(redis, owner, draft.id).await.expect("the draft");
    assert_eq!(got.course_id, Some(course));
    assert_eq!(got.course_slug.as_deref(), Some("a-slug"));
    assert_eq!(got.status, draftd::domain::DraftStatus::Materialized);
    assert!(!redis.discarded(owner, draft.id).await.expect("discarded"));
    assert!(redis.remove(owner, &draft, false).await.expect("remove"));
    assert!(redis.discarded(owner, draft.id).await.expect("discarded"));
    let elsewhere = redis.discarded(elsewhere(owner), draft.id).await;
    assert!(!elsewhere.expect("discarded"), "someone else's tombstone");
}

#[tokio::test]
async fn fallback_finds_drafts_in_either_store() {
    let stores = Stores::new().await;
    let fallback = stores.fallback();
    let owner = owner();
    let in_redis = created(&fallback, owner, json!({})).await;
    assert_eq!(in_redis.store, DraftStore::Redis);
    let in_postgres = created(&stores.postgres, owner, json!({"topic": "Kept in rows"})).await;
    let got = get(&fallback, owner, in_postgres.id).await.expect("found");
    assert_eq!(got.store, DraftStore::Postgres);
    let both: HashSet<DraftId> = [in_redis.id, in_postgres.id].into();
    assert_eq!(listed(&fallback, owner).await, both);
    let outcome = autosave(&fallback, owner, in_postgres.id, json!({"language": "en"})).await;
    assert_eq!(saved(outcome), 2);
    assert!(fallback.touch(owner, &got).await.expect("touch"));
    assert!(fallback.remove(owner, &got, false).await.expect("remove"));
    assert!(get(&stores.postgres, owner, in_postgres.id).await.is_none());
    assert!(get(&stores.redis, owner, in_redis.id).await.is_some());
}

#[tokio::test]
async fn fallback_opens_drafts_in_the_degraded_store_while_the_primary_is_down() {
    let stores = Stores::new().await;
    let fallback = Fallback::new(redis_at(&stores.app, DEAD_REDIS), stores.postgres.clone());
    let owner = owner();
    let draft = created(&fallback, owner, json!({"topic": "Rust for analysts"})).await;
    assert_eq!(draft.store, DraftStore::Postgres);
    assert!(get(&stores.postgres, owner, draft.id).await.is_some());
    // The key stays the primary's: the degraded store opens another draft.
    let key = Idempotency {
        key: IdempotencyKey::parse(b"outage").expect("a key"),
        replaces: None,
    };
    let first = keyed(&fallback, owner, &key).await;
    let second = keyed(&fallback, owner, &key).await;
    match (first, second) {
        (CreateOutcome::Created(a), CreateOutcome::Created(b)) => assert_ne!(a.id, b.id),
        _ => panic!("both creates open a draft"),
    }
    let got = get(&fallback, owner, draft.id)
        .await
        .expect("found in Postgres");
    assert_eq!(got.form_data, draft.form_data);
    let outcome = autosave(&fallback, owner, draft.id, json!({"language": "en"})).await;
    assert!(matches!(outcome, PatchOutcome::Saved(Saved::Draft(ref d)) if d.version == 2));
    // A draft the degraded store lacks: whether Redis holds it is unknown.
    let missing = fallback.get(owner, DraftId::new()).await;
    assert!(missing.is_err_and(|e| e.is_unavailable()));
    assert!(
        fallback.list(owner).await.is_err(),
        "half a list is no list"
    );
    assert!(fallback.remove(owner, &got, false).await.expect("remove"));
    assert!(get(&stores.postgres, owner, draft.id).await.is_none());
}

//! The autosave's merge edits a draft's record where it lies (lib.lua's
//! `form_edits` and `splice_form`): only the lines of the fields a patch
//! names are looked at, the rest copied as it is. Here it is held to the
//! merge it replaced (`set_field` per field, then the record encoded again),
//! on random records and patches, and to the API on the values that could
//! fool a text search.

use deadpool_redis::redis::{self, aio::MultiplexedConnection};
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// Both merges of `edits` (name, JSON text; `''` removes) into `record`:
/// (the old merge's record, whether it changed; the splice's, whether it
/// changed). The splice gets its edits as the save does: the sets, then the
/// removals, each name framed as its line begins.
const BOTH_MERGES: &str = "
local key, record = KEYS[1], ARGV[1]
redis.call('SET', key, record, 'PX', 60000)
local draft = read_draft(key)
local old_changed, sets, removals = false, {}, {}
for i = 2, #ARGV, 2 do
  local value = ARGV[i + 1] ~= '' and ARGV[i + 1] or nil
  old_changed = set_field(draft, ARGV[i], value) or old_changed
  if value then
    sets[#sets + 1], sets[#sets + 2] = '\\n' .. ARGV[i] .. '=', value
  else
    removals[#removals + 1] = '\\n' .. ARGV[i] .. '='
  end
end
local removals_at = #sets + 1
for _, frame in ipairs(removals) do
  sets[#sets + 1] = frame
end
local text = read_record(key)
local ea_end = select(5, owned_header(text, draft.org))
local spans, n = form_edits(text, sets, 1, removals_at)
local pieces = splice_form(text, ea_end, spans, n, sets, removals_at, {string.sub(text, 1, ea_end - 1)}, 1)
redis.call('DEL', key)
return {encode_draft(draft), old_changed and 1 or 0, table.concat(pieces), n > 0 and 1 or 0}
";

/// A small deterministic generator (xorshift64*): a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const NAMES: [&str; 8] = [
    "topic",
    "description",
    "language",
    "formats",
    "estimatedLessons",
    "estimatedSections",
    "email",
    "lessonDuration",
];
/// Fragments that a plain text search could mistake for structure.
const FRAGMENTS: [&str; 12] = [
    "a",
    "=",
    "\n",
    "\"",
    "\\",
    "topic=",
    "\nlanguage=",
    "Основы",
    "日本語",
    "🦀",
    " ",
    "null",
];

/// A field's JSON text as serde_json writes it (compact, newlines escaped).
fn value(rng: &mut Rng) -> String {
    let json = match rng.below(4) {
        0 => json!(rng.below(200)),
        1 => json!([rng.pick(&FRAGMENTS), rng.pick(&FRAGMENTS)]),
        _ => json!((0..rng.below(6))
            .map(|_| rng.pick(&FRAGMENTS))
            .collect::<String>()),
    };
    json.to_string()
}

async fn both_merges(
    redis: &mut MultiplexedConnection,
    script: &redis::Script,
    record: &str,
    edits: &[(String, String)],
) -> (String, i64, String, i64) {
    let mut invocation = script.key(format!("test:splice:{}", uuid::Uuid::new_v4()));
    invocation.arg(record);
    for (name, value) in edits {
        invocation.arg(name).arg(value);
    }
    invocation
        .invoke_async(redis)
        .await
        .expect("both merges run")
}

#[tokio::test]
async fn the_splice_merges_as_the_decoding_merge_did_on_random_records_and_patches() {
    let app = TestApp::spawn().await;
    let mut redis = app.redis().await;
    let script = redis::Script::new(&format!(
        "local PUBLISH_COMMAND = 'PUBLISH'\n{}{BOTH_MERGES}",
        include_str!("../../src/stores/redis/lua/lib.lua")
    ));
    let mut rng = Rng(0x5eed_2026_1201);
    for case in 0..400 {
        let mut record =
            "6f1c2f6e-0b7e-4c52-9c3e-5d1e2f3a4b5c 3 open 1764300000000 1764300000000 1764386400000 0 - - 1764386460000"
                .to_owned();
        let mut names = NAMES.to_vec();
        for _ in 0..rng.below(NAMES.len() + 1) {
            let name = names.remove(rng.below(names.len()));
            record.push_str(&format!("\n{name}={}", value(&mut rng)));
        }
        let edits: Vec<(String, String)> = {
            let mut names = NAMES.to_vec();
            (0..rng.below(4) + usize::from(case % 10 == 0))
                .map(|_| {
                    let name = names.remove(rng.below(names.len()));
                    // '' removes; now and then the value a field already has.
                    let kept = record
                        .split('\n')
                        .find_map(|line| line.strip_prefix(&format!("{name}=")).map(str::to_owned));
                    let text = match (rng.below(5), kept) {
                        (0, _) => String::new(),
                        (1, Some(kept)) => kept,
                        _ => value(&mut rng),
                    };
                    (name.to_owned(), text)
                })
                .collect()
        };
        let (old, old_changed, new, new_changed) =
            both_merges(&mut redis, &script, &record, &edits).await;
        assert_eq!(new, old, "case {case}: {record:?} with {edits:?}");
        assert_eq!(
            new_changed, old_changed,
            "case {case}: {record:?} with {edits:?}"
        );
    }
}

#[tokio::test]
async fn a_save_touches_only_the_named_fields_whatever_their_values_hold() {
    let app = TestApp::spawn().await;
    let tricky = "a=b \"quoted\" \\ back\nslash\ntopic=\"forged\" Основы 日本語 🦀";
    let id = app
        .draft_id(
            &app.user,
            json!({"topic": "First topic", "description": tricky, "formats": ["language=\"en\"", "🦀"]}),
        )
        .await;
    let url = format!("/api/v1/drafts/{id}");

    // A field before, one after and one absent change; the tricky ones stay.
    let saved = app
        .patch_draft(
            &app.user,
            &id,
            json!({"topic": "Second topic", "language": "ru", "estimatedLessons": 12}),
            None,
        )
        .await;
    assert_eq!(saved.status(), 200);
    let draft = app.get_json(&app.user, &url).await;
    assert_eq!(draft["version"], 2, "{draft}");
    assert_eq!(
        draft["formData"],
        json!({"topic": "Second topic", "description": tricky,
               "formats": ["language=\"en\"", "🦀"], "language": "ru", "estimatedLessons": 12}),
    );

    // Removing a field in the middle, removing one that is absent, and
    // setting one to the value it holds: one change, one version.
    let saved = app
        .patch_draft(
            &app.user,
            &id,
            json!({"formats": null, "email": null, "language": "ru", "description": format!("{tricky}!")}),
            None,
        )
        .await;
    assert_eq!(saved.status(), 200);
    let draft: Value = app.get_json(&app.user, &url).await;
    assert_eq!(draft["version"], 3, "{draft}");
    assert_eq!(
        draft["formData"],
        json!({"topic": "Second topic", "description": format!("{tricky}!"),
               "language": "ru", "estimatedLessons": 12}),
    );

    // Nothing that changes anything: the version stays.
    let saved = app
        .patch_draft(
            &app.user,
            &id,
            json!({"email": null, "estimatedLessons": 12}),
            None,
        )
        .await;
    assert_eq!(saved.status(), 200);
    assert_eq!(app.get_json(&app.user, &url).await["version"], 3);
}

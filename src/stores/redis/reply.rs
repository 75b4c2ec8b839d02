//! The scripts' replies, decoded: the one place that knows their shapes
//! (each entry script's header in `lua/` states its own). A script with more
//! than one outcome answers an array whose first element is a status word,
//! then the outcome's values; one that only finds or misses its draft
//! answers 1 or 0. Whatever else comes back is a corrupt reply, an error,
//! never a panic.

use std::time::Duration;

use deadpool_redis::redis::{FromRedisValue, Value};

use super::record::{corrupt, decode};
use crate::domain::draft::{CreateOutcome, FreezeOutcome, PatchOutcome, Saved};
use crate::domain::ids::DraftId;
use crate::domain::StoreError;

/// How long a limited autosave is told to wait when its window has no
/// expiry to read (it always has one; a reply is not trusted to).
const RETRY_UNKNOWN: Duration = Duration::from_secs(1);

/// `create.lua`'s reply, for the draft `id` it opens.
pub(super) fn created(id: DraftId, reply: Value) -> Result<CreateOutcome, StoreError> {
    let (word, values) = tagged("create", reply)?;
    match (word.as_str(), values.as_slice()) {
        ("created", [record]) => Ok(CreateOutcome::Created(decode(
            id,
            &read::<String>(record)?,
        )?)),
        ("full", []) => Ok(CreateOutcome::TooManyDrafts),
        ("exists", [named]) => read::<String>(named)?
            .parse()
            .map(CreateOutcome::Existing)
            .map_err(|_| corrupt(format!("create named a draft that is no id: {named:?}"))),
        _ => Err(unexpected("create", &word)),
    }
}

/// `patch.lua`'s reply, for the draft `id` it saves.
pub(super) fn patched(id: DraftId, reply: Value) -> Result<PatchOutcome, StoreError> {
    let (word, values) = tagged("patch", reply)?;
    match (word.as_str(), values.as_slice()) {
        ("draft", [record]) => Ok(PatchOutcome::Saved(Saved::Draft(decode(
            id,
            &read::<String>(record)?,
        )?))),
        ("saved", [version]) => Ok(PatchOutcome::Saved(Saved::Version(read(version)?))),
        ("limited", [left]) => Ok(PatchOutcome::RateLimited {
            retry_after: u64::try_from(read::<i64>(left)?)
                .map_or(RETRY_UNKNOWN, Duration::from_millis),
        }),
        ("missing", []) => Ok(PatchOutcome::Missing),
        ("submitted", []) => Ok(PatchOutcome::Submitted),
        ("trashed", []) => Ok(PatchOutcome::Trashed),
        ("stale", [current]) => Ok(PatchOutcome::Stale {
            current: read(current)?,
        }),
        _ => Err(unexpected("patch", &word)),
    }
}

/// `freeze.lua`'s reply.
pub(super) fn frozen(reply: Value) -> Result<FreezeOutcome, StoreError> {
    let (word, values) = tagged("freeze", reply)?;
    match (word.as_str(), values.as_slice()) {
        ("frozen", []) => Ok(FreezeOutcome::Frozen),
        ("submitted", []) => Ok(FreezeOutcome::AlreadySubmitted),
        ("changed", []) => Ok(FreezeOutcome::Changed),
        ("missing", []) => Ok(FreezeOutcome::Missing),
        _ => Err(unexpected("freeze", &word)),
    }
}

/// The reply of a script that finds its draft (1) or not (0): attach_course,
/// delete, thaw, touch, trash.
pub(super) fn found(script: &str, reply: Value) -> Result<bool, StoreError> {
    match read::<i64>(&reply)? {
        1 => Ok(true),
        0 => Ok(false),
        other => Err(corrupt(format!("{script} answered {other}, not 1 or 0"))),
    }
}

/// `write_rate.lua`'s reply: the writes counted in the window, and how long
/// the window has left (none if it has no expiry).
pub(super) fn write_count(reply: Value) -> Result<(u64, Duration), StoreError> {
    let (count, left): (u64, i64) = read(&reply)?;
    Ok((count, Duration::from_millis(left.max(0).unsigned_abs())))
}

/// `live_ids.lua`'s reply: the owner's live drafts. An entry that is not an
/// id is skipped: it names no draft anyone can reach.
pub(super) fn live_ids(reply: Value) -> Result<Vec<DraftId>, StoreError> {
    let ids: Vec<String> = read(&reply)?;
    Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
}

/// `read.lua`'s reply: the draft's record, if there is one.
pub(super) fn record(reply: Value) -> Result<Option<String>, StoreError> {
    read(&reply)
}

/// A multi-outcome reply: its status word and the values after it.
fn tagged(script: &str, reply: Value) -> Result<(String, Vec<Value>), StoreError> {
    let Value::Array(mut values) = reply else {
        return Err(corrupt(format!(
            "{script} answered {reply:?}, not an array"
        )));
    };
    if values.is_empty() {
        return Err(corrupt(format!("{script} answered an empty array")));
    }
    let word = read(&values.remove(0))?;
    Ok((word, values))
}

fn read<T: FromRedisValue>(value: &Value) -> Result<T, StoreError> {
    T::from_redis_value_ref(value).map_err(|e| corrupt(format!("unexpected script reply: {e}")))
}

fn unexpected(script: &str, word: &str) -> StoreError {
    corrupt(format!("unexpected {script} reply {word:?}"))
}

#[cfg(test)]
mod tests {
    use crate::domain::ids::OrgId;

    use super::*;

    fn text(word: &str) -> Value {
        Value::BulkString(word.as_bytes().to_vec())
    }

    fn tag(word: &str, values: Vec<Value>) -> Value {
        Value::Array([vec![text(word)], values].concat())
    }

    #[test]
    fn each_patch_outcome_decodes() {
        let id = DraftId::new();
        let saved = patched(id, tag("saved", vec![Value::Int(8)])).unwrap();
        assert!(matches!(saved, PatchOutcome::Saved(Saved::Version(8))));
        let limited = patched(id, tag("limited", vec![Value::Int(1500)])).unwrap();
        assert!(matches!(
            limited,
            PatchOutcome::RateLimited { retry_after } if retry_after == Duration::from_millis(1500)
        ));
        let no_expiry = patched(id, tag("limited", vec![Value::Int(-1)])).unwrap();
        assert!(matches!(
            no_expiry,
            PatchOutcome::RateLimited { retry_after } if retry_after == RETRY_UNKNOWN
        ));
        let stale = patched(id, tag("stale", vec![Value::Int(3)])).unwrap();
        assert!(matches!(stale, PatchOutcome::Stale { current: 3 }));
        for (word, expected) in [
            ("missing", "Missing"),
            ("submitted", "Submitted"),
            ("trashed", "Trashed"),
        ] {
            let outcome = patched(id, tag(word, vec![])).unwrap();
            let name = match outcome {
                PatchOutcome::Missing => "Missing",
                PatchOutcome::Submitted => "Submitted",
                PatchOutcome::Trashed => "Trashed",
                _ => "other",
            };
            assert_eq!(name, expected);
        }
    }

    #[test]
    fn a_record_in_a_reply_decodes_as_a_draft() {
        let id = DraftId::new();
        let org = OrgId::from(uuid::Uuid::new_v4());
        let record = format!("{org} 2 open 1 2 3 0 - -\ntopic=\"Rust\"");
        let PatchOutcome::Saved(Saved::Draft(draft)) =
            patched(id, tag("draft", vec![text(&record)])).unwrap()
        else {
            panic!("not a saved draft");
        };
        assert_eq!(
            (draft.id, draft.organization_id, draft.version),
            (id, org, 2)
        );
        let CreateOutcome::Created(draft) =
            created(id, tag("created", vec![text(&record)])).unwrap()
        else {
            panic!("not a created draft");
        };
        assert_eq!(draft.form_data["topic"], "Rust");
    }

    #[test]
    fn create_and_freeze_outcomes_decode() {
        let id = DraftId::new();
        let named = DraftId::new();
        assert!(matches!(
            created(id, tag("exists", vec![text(&named.to_string())])).unwrap(),
            CreateOutcome::Existing(other) if other == named
        ));
        assert!(matches!(
            created(id, tag("full", vec![])).unwrap(),
            CreateOutcome::TooManyDrafts
        ));
        assert!(matches!(
            frozen(tag("frozen", vec![])).unwrap(),
            FreezeOutcome::Frozen
        ));
        assert!(matches!(
            frozen(tag("submitted", vec![])).unwrap(),
            FreezeOutcome::AlreadySubmitted
        ));
        assert!(matches!(
            frozen(tag("changed", vec![])).unwrap(),
            FreezeOutcome::Changed
        ));
        assert!(matches!(
            frozen(tag("missing", vec![])).unwrap(),
            FreezeOutcome::Missing
        ));
    }

    #[test]
    fn the_small_replies_decode() {
        assert!(found("touch", Value::Int(1)).unwrap());
        assert!(!found("touch", Value::Int(0)).unwrap());
        assert_eq!(
            write_count(Value::Array(vec![Value::Int(4), Value::Int(-2)])).unwrap(),
            (4, Duration::ZERO)
        );
        let id = DraftId::new();
        assert_eq!(
            live_ids(Value::Array(vec![text(&id.to_string()), text("junk")])).unwrap(),
            vec![id]
        );
        assert_eq!(record(Value::Nil).unwrap(), None);
    }

    #[test]
    fn an_unexpected_reply_is_an_error_not_a_panic() {
        let id = DraftId::new();
        let odd = [
            Value::Nil,
            Value::Int(1),
            Value::Array(vec![]),
            tag("ok", vec![]),
            tag("saved", vec![]),
            tag("saved", vec![text("seven")]),
            tag("stale", vec![Value::Int(1), Value::Int(2)]),
            tag("draft", vec![text("garbage")]),
            tag("missing", vec![Value::Int(1)]),
        ];
        for reply in odd {
            assert!(patched(id, reply.clone()).is_err(), "patch {reply:?}");
            assert!(created(id, reply.clone()).is_err(), "create {reply:?}");
            assert!(frozen(reply).is_err());
        }
        assert!(found("trash", Value::Int(2)).is_err());
        assert!(found("trash", text("yes")).is_err());
    }
}

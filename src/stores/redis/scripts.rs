//! The Lua scripts of draft sessions (`lua/`), loaded once per process. The
//! ones that change a draft also announce the change on the draft's events
//! channel ([`super::keys::events_channel`]), in the same atomic step: PUBLISH
//! on one Redis, SPUBLISH on a cluster, chosen here. Every script that reads or
//! writes a draft starts with [`RECORD`], the one reader and writer of its
//! record ([`super::record`]).

use deadpool_redis::redis::Script;

pub(super) struct Scripts {
    pub create: Script,
    pub patch: Script,
    pub live_ids: Script,
    pub delete: Script,
    pub attach_course: Script,
    pub freeze: Script,
    pub thaw: Script,
    pub write_rate: Script,
}

/// Reads a draft's record into a Lua table and writes one back.
const RECORD: &str = include_str!("lua/record.lua");
const KEEP_ALIVE: &str = include_str!("lua/keep_alive.lua");
const PUBLISH: &str = include_str!("lua/publish.lua");

impl Scripts {
    pub fn load(cluster: bool) -> Self {
        let command = if cluster { "SPUBLISH" } else { "PUBLISH" };
        let publishing = |parts: &[&str]| {
            let mut code = format!("local publish_command = '{command}'\n{PUBLISH}");
            code.extend(parts.iter().copied());
            Script::new(&code)
        };
        Self {
            create: on_record(&[KEEP_ALIVE, include_str!("lua/create.lua")]),
            patch: publishing(&[RECORD, KEEP_ALIVE, include_str!("lua/patch.lua")]),
            live_ids: Script::new(include_str!("lua/live_ids.lua")),
            delete: publishing(&[RECORD, include_str!("lua/delete.lua")]),
            attach_course: publishing(&[RECORD, include_str!("lua/attach_course.lua")]),
            freeze: on_record(&[include_str!("lua/freeze.lua")]),
            thaw: on_record(&[include_str!("lua/thaw.lua")]),
            write_rate: Script::new(include_str!("lua/write_rate.lua")),
        }
    }
}

/// A script that reads or writes a draft: [`RECORD`], then `parts`.
pub(super) fn on_record(parts: &[&str]) -> Script {
    Script::new(&[&[RECORD], parts].concat().concat())
}

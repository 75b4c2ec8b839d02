//! The Lua scripts of draft sessions (`lua/`), built once per process and
//! run by EVALSHA through redis-rs's [`Script`], which loads a script that
//! Redis does not hold (NOSCRIPT, as after a restart) and sends it again.
//! That is the one way draftd runs a script.
//!
//! Each script is built here, in one order: a line naming the publish
//! command (PUBLISH on one Redis, SPUBLISH on a cluster: a draft's events
//! channel is sharded there, in the draft's slot), then the library
//! (`lua/lib.lua`: the clock, rate windows, the record's reader and writer,
//! ownership, the owner's index, publishing), then the entry script, which
//! reads its KEYS and ARGV at its top and passes the library's functions
//! explicit values. The replies are decoded in [`super::reply`].

use deadpool_redis::redis::{Script, ScriptInvocation, Value};

use super::RedisConn;
use crate::domain::StoreError;

/// Every script, built for one kind of Redis.
pub(super) struct Scripts {
    pub create: Script,
    pub patch: Script,
    pub read: Script,
    pub live_ids: Script,
    pub delete: Script,
    pub attach_course: Script,
    pub freeze: Script,
    pub thaw: Script,
    pub touch: Script,
    pub trash: Script,
    pub write_rate: Script,
}

/// The helpers every entry script is built on.
const LIBRARY: &str = include_str!("lua/lib.lua");

impl Scripts {
    pub fn load(cluster: bool) -> Self {
        let command = if cluster { "SPUBLISH" } else { "PUBLISH" };
        let prelude = format!("local PUBLISH_COMMAND = '{command}'\n{LIBRARY}");
        let entry = |code: &str| Script::new(&format!("{prelude}{code}"));
        Self {
            create: entry(include_str!("lua/create.lua")),
            patch: entry(include_str!("lua/patch.lua")),
            read: entry(include_str!("lua/read.lua")),
            live_ids: entry(include_str!("lua/live_ids.lua")),
            delete: entry(include_str!("lua/delete.lua")),
            attach_course: entry(include_str!("lua/attach_course.lua")),
            freeze: entry(include_str!("lua/freeze.lua")),
            thaw: entry(include_str!("lua/thaw.lua")),
            touch: entry(include_str!("lua/touch.lua")),
            trash: entry(include_str!("lua/trash.lua")),
            write_rate: entry(include_str!("lua/write_rate.lua")),
        }
    }
}

/// Runs a script on `conn`, the one way draftd does: EVALSHA; on NOSCRIPT,
/// SCRIPT LOAD (to every primary of a cluster) and EVALSHA again. Its reply
/// goes to [`super::reply`].
pub(super) async fn invoke(
    invocation: &ScriptInvocation<'_>,
    conn: &mut RedisConn,
) -> Result<Value, StoreError> {
    Ok(invocation.invoke_async(conn).await?)
}

//! The Lua scripts of draft sessions (`lua/`), as one Redis Function library
//! built once per process and called by FCALL. That is the one way draftd
//! runs a script.
//!
//! The library is built here, in one order: its shebang, whose name carries
//! the code's hash (two versions of draftd during a rollout each call their
//! own functions, never the other's), a line naming the publish command
//! (PUBLISH on one Redis, SPUBLISH on a cluster: a draft's events channel is
//! sharded there, in the draft's slot), then the helpers (`lua/lib.lua`: the
//! clock, rate windows, the record's reader and writer, ownership, the
//! owner's index, publishing), then each entry script as a registered
//! function. An entry reads its KEYS and ARGV at its top and passes the
//! helpers explicit values. Redis runs the helpers' definitions once, at
//! FUNCTION LOAD, not on every call as it would an EVALSHA's. The replies are
//! decoded in [`super::reply`].

use std::sync::Arc;

use deadpool_redis::redis::{self, Script, ToRedisArgs, Value};

use super::RedisConn;
use crate::domain::StoreError;

/// Every entry point, the functions of one library built for one kind of Redis.
pub(super) struct Scripts {
    pub create: Entry,
    pub patch: Entry,
    pub read: Entry,
    pub live_ids: Entry,
    pub delete: Entry,
    pub attach_course: Entry,
    pub freeze: Entry,
    pub thaw: Entry,
    pub touch: Entry,
    pub trash: Entry,
    pub write_rate: Entry,
}

/// The helpers every entry script is built on.
const LIBRARY: &str = include_str!("lua/lib.lua");

/// Each entry point: its name and its script.
const ENTRIES: [(&str, &str); 11] = [
    ("create", include_str!("lua/create.lua")),
    ("patch", include_str!("lua/patch.lua")),
    ("read", include_str!("lua/read.lua")),
    ("live_ids", include_str!("lua/live_ids.lua")),
    ("delete", include_str!("lua/delete.lua")),
    ("attach_course", include_str!("lua/attach_course.lua")),
    ("freeze", include_str!("lua/freeze.lua")),
    ("thaw", include_str!("lua/thaw.lua")),
    ("touch", include_str!("lua/touch.lua")),
    ("trash", include_str!("lua/trash.lua")),
    ("write_rate", include_str!("lua/write_rate.lua")),
];

/// The library's code, loaded again wherever a function is missing.
struct Library {
    code: String,
}

/// One function of the library.
pub(super) struct Entry {
    name: String,
    library: Arc<Library>,
}

impl Scripts {
    pub fn load(cluster: bool) -> Self {
        let command = if cluster { "SPUBLISH" } else { "PUBLISH" };
        let mut body = format!("local PUBLISH_COMMAND = '{command}'\n{LIBRARY}");
        for (entry, code) in ENTRIES {
            body.push_str(&format!(
                "redis.register_function(PREFIX .. '{entry}', function(KEYS, ARGV)\n{code}\nend)\n"
            ));
        }
        // The code's hash (SHA-1, as a script's), in the library's name and
        // its functions'.
        let version = Script::new(&body).get_hash()[..12].to_owned();
        let library = Arc::new(Library {
            code: format!(
                "#!lua name=draftd_{version}\nlocal PREFIX = 'draftd_{version}_'\n{body}"
            ),
        });
        let entry = |name: &str| Entry {
            name: format!("draftd_{version}_{name}"),
            library: Arc::clone(&library),
        };
        Self {
            create: entry("create"),
            patch: entry("patch"),
            read: entry("read"),
            live_ids: entry("live_ids"),
            delete: entry("delete"),
            attach_course: entry("attach_course"),
            freeze: entry("freeze"),
            thaw: entry("thaw"),
            touch: entry("touch"),
            trash: entry("trash"),
            write_rate: entry("write_rate"),
        }
    }
}

impl Entry {
    /// A call of this function, its keys and arguments to add.
    pub fn prepare_invoke(&self) -> Invocation<'_> {
        Invocation {
            entry: self,
            // Room for an autosave's (4 keys, 13 arguments) without growing.
            keys: redis::Cmd::with_capacity(4, 256),
            args: redis::Cmd::with_capacity(16, 1024),
        }
    }

    /// A call of this function with one key.
    pub fn key(&self, key: impl ToRedisArgs) -> Invocation<'_> {
        let mut invocation = self.prepare_invoke();
        invocation.key(key);
        invocation
    }
}

/// One FCALL to make: the function, its KEYS and its ARGV. Each list is
/// written into one buffer as it is built (a command's own, unsent), not an
/// allocation per argument: an autosave sends a dozen.
pub(super) struct Invocation<'a> {
    entry: &'a Entry,
    keys: redis::Cmd,
    args: redis::Cmd,
}

impl Invocation<'_> {
    pub fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        self.keys.arg(key);
        self
    }

    pub fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        self.args.arg(arg);
        self
    }

    fn command(&self) -> redis::Cmd {
        let (keys, args) = (self.keys.args_iter(), self.args.args_iter());
        let pieces = keys.clone().chain(args.clone());
        let bytes: usize = pieces
            .clone()
            .map(|piece| match piece {
                redis::Arg::Simple(bytes) => bytes.len(),
                _ => 0,
            })
            .sum();
        let mut fcall = redis::Cmd::with_capacity(keys.len() + args.len() + 3, bytes + 64);
        fcall.arg("FCALL").arg(&self.entry.name).arg(keys.len());
        for piece in pieces {
            // Only a SCAN's cursor is not a plain argument.
            if let redis::Arg::Simple(bytes) = piece {
                fcall.arg(bytes);
            }
        }
        fcall
    }
}

/// Runs a function on `conn`, the one way draftd does: FCALL; when Redis
/// lacks it (a restart without persistence, a flush, a node new to the
/// cluster), FUNCTION LOAD REPLACE of the library (to every primary of a
/// cluster) and FCALL again. Its reply goes to [`super::reply`].
pub(super) async fn invoke(
    invocation: &Invocation<'_>,
    conn: &mut RedisConn,
) -> Result<Value, StoreError> {
    match invocation.command().query_async(conn).await {
        Err(error) if is_missing_function(&error) => {
            redis::cmd("FUNCTION")
                .arg("LOAD")
                .arg("REPLACE")
                .arg(&invocation.entry.library.code)
                .query_async::<Value>(conn)
                .await?;
            Ok(invocation.command().query_async(conn).await?)
        }
        answer => Ok(answer?),
    }
}

/// Redis's answer to an FCALL of a function it does not hold.
fn is_missing_function(error: &redis::RedisError) -> bool {
    error.to_string().contains("Function not found")
}

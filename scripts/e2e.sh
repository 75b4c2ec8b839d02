#!/usr/bin/env bash
# Browser tests of the create-course page (e2e/): node --test with playwright-core
# driving Debian's Chromium.
#
# The tests start draftd themselves (e2e/lib/harness.js): one process per test
# file, in dev mode, each with a fresh database, a temp upload dir and a free
# loopback port, killed and restarted on that port by the offline test. This
# script provides what they need: Chromium, e2e/node_modules, the local Redis and
# Postgres (scripts/services.sh), the debug binary, then stops what it started.
# Its exit status is the tests'.
#
#   scripts/e2e.sh                         every test file
#   scripts/e2e.sh tests/offline.test.js   some (paths relative to e2e/)
#
# DRAFTD_E2E_DOCS_SCREENSHOT=1 also rewrites docs/page.png.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
redis_port=${DRAFTD_LOCAL_REDIS_PORT:-6390}
pg_port=${DRAFTD_LOCAL_PG_PORT:-5490}
# A Redis database of the e2e tests' own (the API tests use 7), emptied each run,
# and the prefix of their databases, dropped when an earlier run left them. Two
# runs side by side (two work trees) each set their own.
redis_db=${DRAFTD_E2E_REDIS_DB:-5}
db_prefix=${DRAFTD_E2E_DB_PREFIX:-draftd_test_e2e}

log() { printf 'e2e: %s\n' "$*" >&2; }
. "$root/scripts/apt-install.sh"

# --- what is absent -----------------------------------------------------------

[ -x /usr/bin/chromium ] || apt_install chromium
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  log "Node.js 20 or later is needed (found: $(node --version 2>/dev/null || echo none))"
  exit 1
fi
# npm ci when node_modules is absent or older than the lock file.
if [ ! -f e2e/node_modules/.package-lock.json ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
  log "npm ci"
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- services and binary ------------------------------------------------------

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
services_were_up=false
if listening "$redis_port" && listening "$pg_port"; then services_were_up=true; fi

run_dir=$(mktemp -d)
bin=${CARGO_TARGET_DIR:-$root/target}/debug/draftd
node_pid=

cleanup() {
  local status=$?
  # draftd processes a dead test process left behind: each wrote its pid here
  # and removes the file when it exits; check it is draftd before killing it.
  for pid_file in "$run_dir"/*.pid; do
    [ -e "$pid_file" ] || continue
    pid=$(cat "$pid_file")
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$bin")" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$run_dir"
  if [ "$services_were_up" = false ]; then "$root/scripts/services.sh" down || true; fi
  exit "$status"
}
trap cleanup EXIT

scripts/services.sh up
log "cargo build"
cargo build --quiet
redis-cli -p "$redis_port" -n "$redis_db" flushdb >/dev/null
# Databases of earlier runs that were interrupted.
psql "postgres://draftd@127.0.0.1:$pg_port/postgres" -XtAq -c \
  "SELECT datname FROM pg_database WHERE datname LIKE '${db_prefix//_/\\_}\\_%'" |
  while read -r db; do
    psql "postgres://draftd@127.0.0.1:$pg_port/postgres" -XqA -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  done
rm -rf e2e/artifacts

# --- the tests ----------------------------------------------------------------

export DRAFTD_E2E_BIN=$bin
export DRAFTD_E2E_PG_URL=postgres://draftd@127.0.0.1:$pg_port
export DRAFTD_E2E_REDIS_URL=redis://127.0.0.1:$redis_port/$redis_db
export DRAFTD_E2E_CHROMIUM=/usr/bin/chromium
export DRAFTD_E2E_RUN_DIR=$run_dir
export DRAFTD_E2E_DB_PREFIX=$db_prefix

# One file at a time: the tests time autosaves, and two Chromiums on a small
# machine would blur that. In a process group of its own, so that a signal to
# this script stops the runner, its test processes and their draftd at once.
cd e2e
setsid node --test --test-concurrency=1 "${@:-tests/}" &
node_pid=$!
trap 'kill -TERM -- "-$node_pid" 2>/dev/null || true' INT TERM
status=0
wait "$node_pid" || status=$?
wait "$node_pid" 2>/dev/null || true # when a signal cut the first wait short
exit "$status"

#!/usr/bin/env bash
# The history test (tests/history/) with a Postgres server of its own, which
# scripts/services.sh starts beside the one every other test uses (its Redis,
# file dir and S3 server the test starts itself).
#
#   scripts/history.sh                     the test: make test's history stage
#   SOAK_SECONDS=1200 scripts/history.sh   the soak (make soak)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
scripts/services.sh up-history
export HISTORY_POSTGRES_URL=postgres://draftd@127.0.0.1:${DRAFTD_HISTORY_PG_PORT:-5492}
exec cargo test --test history -- --nocapture

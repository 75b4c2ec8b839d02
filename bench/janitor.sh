#!/usr/bin/env bash
# The janitor at scale: 100k stale unused drafts among 1M course rows, deleted
# with the partial index and without it, in one run on a scratch database.
# Usage: bench/janitor.sh [total_rows] [stale_rows]   (defaults 1000000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-1000000}
stale=${2:-100000}
server=postgres://draftd@127.0.0.1:${DRAFTD_LOCAL_PG_PORT:-5490}
db=draftd_bench_janitor
bin=${DRAFTD_BIN:-target/release/draftd}
psql_db() { psql -q -X -v ON_ERROR_STOP=1 "$server/$db" "$@"; }

scripts/services.sh up >/dev/null 2>&1
[ -x "$bin" ] || cargo build --release -q

fill() {
  psql -q -X "$server/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  DRAFTD_DATABASE_URL="$server/$db" DRAFTD_LOG=warn "$bin" migrate
  # Every tenth row a stale unused draft; the rest submitted, in generation,
  # or fresh drafts. Each draft has a (long expired) draft session id.
  psql_db <<SQL
INSERT INTO courses (id, draft_session_id, owner_id, organization_id, slug, title,
                     status, generation_status, updated_at, created_at)
SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(),
       '00000000-0000-4000-8000-0000000000a1', 'course-' || i, 'Course ' || i,
       CASE WHEN i % 10 IN (0, 1) THEN 'draft' ELSE 'submitted' END,
       CASE WHEN i % 10 = 1 THEN 'completed' END,
       CASE WHEN i % 10 = 0 AND i / 10 < $stale THEN now() - interval '3 days' - make_interval(secs => i)
            ELSE now() - make_interval(mins => i % 600) END,
       now() - interval '30 days'
FROM generate_series(0, $total - 1) AS i;
VACUUM ANALYZE courses;
SQL
}

candidates_sql="SELECT id FROM courses WHERE status = 'draft' AND generation_status IS NULL
  AND updated_at < now() - interval '1 day' AND (updated_at, id) > ('epoch', '00000000-0000-0000-0000-000000000000')
  ORDER BY updated_at, id LIMIT 500"

run() {
  local label=$1
  local plan report
  plan=$(psql_db -At -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) $candidates_sql")
  report=$(DRAFTD_DATABASE_URL="$server/$db" DRAFTD_LOG=warn DRAFTD_JANITOR_CRON=off \
    DRAFTD_ORPHAN_SWEEP_CRON=off "$bin" janitor)
  local left
  left=$(psql_db -At -c "SELECT count(*) FROM courses WHERE status = 'draft' AND generation_status IS NULL AND updated_at < now() - interval '1 day'")
  echo "== $label"
  echo "$report" | grep -E '"(candidates|deleted|batches|durationMs)"'
  echo "stale rows left: $left"
  echo "candidate query plan (first batch):"
  echo "$plan" | sed 's/^/  /'
}

fill
psql_db -At -c "SELECT 'partial index: ' || pg_size_pretty(pg_relation_size('courses_unused_drafts_idx'))"
psql_db -c "CREATE INDEX courses_updated_at_full_idx ON courses (updated_at, id)"
psql_db -At -c "SELECT 'full index on the same column: ' || pg_size_pretty(pg_relation_size('courses_updated_at_full_idx'))"
psql_db -c "DROP INDEX courses_updated_at_full_idx"
run "with the partial index"

fill
psql_db -c "DROP INDEX courses_unused_drafts_idx"
run "without the partial index"

psql -q -X "$server/postgres" -c "DROP DATABASE IF EXISTS $db"

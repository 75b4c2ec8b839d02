#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document with schemathesis: no 5xx, no
# answer outside the document, for a bounded number of generated requests.
# Needs the local services (scripts/services.sh up) and a debug build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
examples=${FUZZ_EXAMPLES:-40}
venv=.data/venv
pg=postgres://draftd@127.0.0.1:${DRAFTD_LOCAL_PG_PORT:-5490}

if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
cargo build -q

db=draftd_fuzz_$$
psql -q -X "$pg/postgres" -c "CREATE DATABASE $db"
uploads=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DRAFTD_BIND=127.0.0.1:$port DRAFTD_DATABASE_URL=$pg/$db DRAFTD_UPLOAD_DIR=$uploads \
  DRAFTD_JWT_SECRET=fuzzing-secret-that-is-long-enough-for-hs256 DRAFTD_LOG=warn \
  DRAFTD_JANITOR_CRON=off DRAFTD_ORPHAN_SWEEP_CRON=off \
  DRAFTD_WRITE_RATE_LIMIT=100000 DRAFTD_AUTOSAVE_RATE_LIMIT=100000
# The rates are raised: one fuzzing user would otherwise spend most of its
# requests on 429s; the API tests prove the limits.
target/debug/draftd serve &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  psql -q -X "$pg/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$uploads"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

user=$(python3 -c 'import uuid; print(uuid.uuid4())')
token=$(target/debug/draftd dev-token --user "$user")
# positive_data_acceptance is left out: the service rightly refuses requests
# the schema cannot describe as wrong (submitting a form without a topic, an
# empty file, a file type not accepted). So is use_after_free: a course its
# owner deletes goes to the trash and stays readable until its purge, by
# design (tests/api/trash.rs covers what DELETE does). A draft's event stream is left out:
# it never ends while its draft is open (tests/api/events.rs covers it). So
# are the tus routes: tus answers a missing or wrong Tus-Resumable with 412,
# which the negative-data checks do not count as a refusal, and a PATCH's
# body is a raw byte stream they cannot generate (tests/api/tus.rs and the
# tus-js-client tests in e2e/ cover them).
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  --exclude-path '/api/v1/drafts/{id}/events' \
  --exclude-path '/api/v1/drafts/{id}/uploads' \
  --exclude-path '/api/v1/drafts/{id}/uploads/{upload_id}' \
  --checks all --exclude-checks positive_data_acceptance,use_after_free \
  -n "$examples" --seed 20261126 --suppress-health-check all

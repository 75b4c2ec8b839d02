#!/usr/bin/env bash
# Lints the OpenAPI document (`draftd openapi`, the one served at /openapi.json)
# with Redocly's recommended rules (tools/openapi-lint/redocly.yaml). Any error
# or warning fails. Redocly CLI is pinned by tools/openapi-lint's
# package-lock.json and installed with npm ci.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf 'openapi-lint: %s\n' "$*" >&2; }
started=$SECONDS
tools=$root/tools/openapi-lint

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  log "Node.js 20 or later is needed (found: $(node --version 2>/dev/null || echo none))"
  exit 1
fi
# npm ci when node_modules is absent or older than the lock file.
if [ ! -f "$tools/node_modules/.package-lock.json" ] ||
  [ "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ]; then
  log "npm ci"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo build --quiet --bin draftd
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${CARGO_TARGET_DIR:-$root/target}/debug/draftd" openapi >"$work/openapi.json"

# JSON out, so that warnings fail the stage too; Redocly's banners go to stderr.
"$tools/node_modules/.bin/redocly" lint --config "$tools/redocly.yaml" --format json \
  --max-problems 1000 "$work/openapi.json" >"$work/report.json" 2>"$work/stderr" || true
status=0
node - "$work/report.json" <<'JS' || status=$?
const fs = require('fs');
let report;
try {
  report = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
} catch (e) {
  console.error('openapi-lint: no report from redocly');
  process.exit(2);
}
for (const p of report.problems) {
  const where = p.location.map((l) => l.pointer).join(', ');
  console.error(`  ${p.severity} ${p.ruleId}: ${p.message} (${where})`);
}
const { errors, warnings } = report.totals;
console.error(`openapi-lint: ${errors} errors, ${warnings} warnings (redocly ${report.version})`);
process.exit(errors + warnings > 0 ? 1 : 0);
JS
if [ "$status" -eq 2 ]; then grep -v '[║╔╚]' "$work/stderr" >&2 || true; fi
log "took $((SECONDS - started)) s"
exit "$status"

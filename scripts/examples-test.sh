#!/usr/bin/env bash
# Tests the examples (examples/*/test_*.py) with pytest, in a virtualenv under
# .tools/examples-venv made on first use from python3 and the pinned versions
# of each example's requirements.txt; prints how long it took.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf 'examples: %s\n' "$*" >&2; }
started=$SECONDS
venv=$root/.tools/examples-venv
requirements=(examples/*/requirements.txt)
stamp=$venv/.requirements

if ! command -v python3 >/dev/null; then
  log "python3 is needed (with its venv module and pip)"
  exit 1
fi
# (Re)made when absent or when a requirements file changed.
wanted=$(cat "${requirements[@]}" | sha256sum)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  log "making $venv"
  rm -rf "$venv"
  mkdir -p "$root/.tools"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    $(printf -- '-r %s ' "${requirements[@]}")
  echo "$wanted" >"$stamp"
fi

status=0
for dir in examples/*/; do
  [ -f "$dir/requirements.txt" ] || continue
  log "pytest $dir"
  (cd "$dir" && "$venv/bin/python" -m pytest -q -p no:cacheprovider) || status=$?
done
log "took $((SECONDS - started)) s"
exit "$status"

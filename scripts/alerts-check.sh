#!/usr/bin/env bash
# Checks the Prometheus alerting rules (docs/alerts.yml) and runs their unit
# tests (tests/alerts/*.yml) with promtool; prints how long it took.
#
# promtool comes from Debian's `prometheus` package, downloaded (not installed:
# no server, no service, no dependencies) and unpacked once into
# .tools/prometheus/, of which only bin/promtool is kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf 'alerts: %s\n' "$*" >&2; }
started=$SECONDS
tools=$root/.tools/prometheus
promtool=$tools/bin/promtool
work=

# An `if`, not `&&`: under `set -e` a false test here would make the exit status 1.
cleanup() { if [ -n "$work" ]; then rm -rf "$work"; fi; }
trap cleanup EXIT

install_promtool() {
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    log "promtool is absent and apt-get/dpkg-deb are not here: put promtool at $promtool"
    exit 1
  fi
  # A fresh machine may have no package lists yet.
  if ! apt-cache show prometheus >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      log "no package lists: run apt-get update as root (or put promtool at $promtool)"
      exit 1
    fi
    log "apt-get update"
    apt-get update -qq
  fi
  mkdir -p "$root/.tools"
  # Beside the destination, so that the final move is a rename.
  work=$(mktemp -d "$root/.tools/prometheus.XXXXXX")
  local sandbox=()
  # As root apt drops to the _apt user, which cannot write in this directory.
  [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
  log "downloading Debian's prometheus package for promtool"
  (cd "$work" && apt-get download -qq "${sandbox[@]}" prometheus)
  dpkg-deb -x "$work"/prometheus_*.deb "$work/unpacked"
  if [ ! -x "$work/unpacked/usr/bin/promtool" ]; then
    log "$(basename "$work"/prometheus_*.deb) has no usr/bin/promtool"
    exit 1
  fi
  mkdir -p "$work/keep/bin"
  mv "$work/unpacked/usr/bin/promtool" "$work/keep/bin/promtool"
  # Another run may have finished first: its copy is as good.
  mv -T "$work/keep" "$tools" 2>/dev/null || [ -x "$promtool" ]
  log "installed $("$promtool" --version 2>&1 | head -n 1) in $tools"
}

[ -x "$promtool" ] || install_promtool

status=0
"$promtool" check rules docs/alerts.yml || status=$?
"$promtool" test rules tests/alerts/*.yml || status=$?
log "took $((SECONDS - started)) s"
exit "$status"

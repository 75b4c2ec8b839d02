#!/usr/bin/env bash
# The project's own Redis and Postgres, on loopback ports, with their data in a
# project-local directory. Installs the servers with apt-get when they are absent.
#
#   scripts/services.sh up      install if needed, start (idempotent)
#   scripts/services.sh up-history  the history test's own Postgres, on its own port
#   scripts/services.sh down    stop them all
#   scripts/services.sh status  say what runs
#   scripts/services.sh drop-test-databases  remove what earlier test runs left
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
redis_port=${DRAFTD_LOCAL_REDIS_PORT:-6390}
redis_tls_port=${DRAFTD_LOCAL_REDIS_TLS_PORT:-6391}
pg_port=${DRAFTD_LOCAL_PG_PORT:-5490}
history_pg_port=${DRAFTD_HISTORY_PG_PORT:-5492}
data=${DRAFTD_LOCAL_DATA_DIR:-$root/.data}

log() { printf 'services: %s\n' "$*" >&2; }
. "$root/scripts/apt-install.sh"

# Postgres refuses to run as root: as root, the server runs as the `postgres`
# system user, which must be able to reach its data directory.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

install_missing() {
  local pkgs=()
  command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
  pg_bin >/dev/null || pkgs+=(postgresql)
  command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
  apt_install "${pkgs[@]}"
}

# The Postgres data directory: inside the project when the postgres user can
# reach it, otherwise under /var/tmp (a root-only checkout such as /root/...).
pg_data_dir() {
  local dir=$data/postgres
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$data"
    if ! runuser -u postgres -- test -x "$data" 2>/dev/null; then
      dir=/var/tmp/draftd-$(printf '%s' "$root" | cksum | cut -d' ' -f1)/postgres
    fi
  fi
  echo "$dir"
}

# A local CA and a certificate for localhost/127.0.0.1 signed by it, so that
# both servers also speak TLS (Redis on its TLS port, Postgres on request).
# Clients trust the CA with DRAFTD_TLS_CA_FILE=$data/tls/ca.pem.
tls_up() {
  local dir=$data/tls
  [ -f "$dir/server.pem" ] && return 0
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=draftd local CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/server.ext"
  openssl x509 -req -days 3650 -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
  log "TLS certificates in $dir"
}

# PONG only once Redis has loaded its data (it answers LOADING before).
redis_ready() { [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]; }

redis_up() {
  if redis_ready; then redis_tls; return 0; fi
  mkdir -p "$data/redis"
  # AOF so that an acknowledged autosave survives a restart of Redis.
  redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes \
    --dir "$data/redis" --appendonly yes --appendfsync everysec \
    --pidfile "$data/redis/redis.pid" --logfile "$data/redis/redis.log" \
    --save ''
  # Loading a large append-only file takes a while.
  for _ in $(seq 300); do
    if redis_ready; then
      redis_tls
      log "redis on 127.0.0.1:$redis_port (TLS on $redis_tls_port)"
      return 0
    fi
    sleep 0.1
  done
  log "redis did not start; see $data/redis/redis.log"
  exit 1
}

# The TLS port, set at run time so that a Redis started before has it too.
redis_tls() {
  [ "$(redis-cli -p "$redis_port" config get tls-port | tail -n 1)" = "$redis_tls_port" ] && return 0
  redis-cli -p "$redis_port" config set tls-cert-file "$data/tls/server.pem" \
    tls-key-file "$data/tls/server.key" tls-ca-cert-file "$data/tls/ca.pem" \
    tls-auth-clients no tls-port "$redis_tls_port" >/dev/null
}

# TLS for clients that ask for it (sslmode=require); plain connections stay allowed.
pg_tls() {
  local bin=$1 pgdata=$2
  if [ ! -f "$pgdata/server.key" ]; then
    cp "$data/tls/server.pem" "$pgdata/server.crt"
    cp "$data/tls/server.key" "$pgdata/server.key"
    chmod 600 "$pgdata/server.key"
    [ "$(id -u)" = 0 ] && chown postgres: "$pgdata/server.crt" "$pgdata/server.key"
  fi
  "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U draftd -d postgres -qtA \
    -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
}

# A Postgres server with its data in $1 (made if absent), on loopback port $2,
# with a database `draftd` for the user `draftd`.
pg_start() {
  local bin=$1 pgdata=$2 port=$3
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    mkdir -p "$pgdata"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$pgdata"
    as_pg "$bin/initdb" -D "$pgdata" -U draftd --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_pg "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=''" >/dev/null
  fi
  for _ in $(seq 100); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
    sleep 0.1
  done
  if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U draftd -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'draftd'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U draftd draftd
  fi
}

pg_up() {
  local bin pgdata
  bin=$(pg_bin)
  pgdata=$(pg_data_dir)
  pg_start "$bin" "$pgdata" "$pg_port"
  pg_tls "$bin" "$pgdata"
  log "postgres on 127.0.0.1:$pg_port (data in $pgdata)"
}

# The history test's own Postgres server, beside the one every other test uses.
history_pg_up() {
  local bin pgdata
  bin=$(pg_bin)
  pgdata=$(pg_data_dir)-history
  pg_start "$bin" "$pgdata" "$history_pg_port"
  log "postgres for the history test on 127.0.0.1:$history_pg_port (data in $pgdata)"
}

down() {
  redis-cli -p "$redis_port" shutdown >/dev/null 2>&1 || true
  local bin pgdata
  bin=$(pg_bin) || return 0
  pgdata=$(pg_data_dir)
  for dir in "$pgdata" "$pgdata-history"; do
    [ -f "$dir/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
  done
  log "stopped"
}

# Every API test creates a database of its own; this clears earlier runs' ones.
drop_test_databases() {
  local bin
  bin=$(pg_bin)
  "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U draftd -d postgres -tAc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'draftd\_test\_%'" |
    while read -r name; do
      "$bin/dropdb" -h 127.0.0.1 -p "$pg_port" -U draftd --if-exists "$name"
    done
}

case ${1:-up} in
  up) install_missing; tls_up; redis_up; pg_up ;;
  up-history) install_missing; history_pg_up ;;
  down) down ;;
  status)
    redis-cli -p "$redis_port" ping 2>/dev/null || echo "redis: down"
    "$(pg_bin)/pg_isready" -h 127.0.0.1 -p "$pg_port" || true ;;
  drop-test-databases) drop_test_databases ;;
  *) echo "usage: $0 up|up-history|down|status|drop-test-databases" >&2; exit 2 ;;
esac

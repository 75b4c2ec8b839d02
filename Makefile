# The two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run test e2e bench soak stop services test-tools dev-token lint openapi-lint alerts examples

## Start the local Redis and Postgres (installing them if absent) and serve on
## 127.0.0.1:8080 in dev mode.
run: services
	DRAFTD_DEV_MODE=true cargo run -- serve

## Print a dev access token for the demo user (add ARGS="--role service_role").
dev-token:
	@DRAFTD_DEV_MODE=true cargo run -q -- dev-token $(ARGS)

## Everything CI checks: formatting, lints, the OpenAPI document's lint, the
## alerting rules and their unit tests, the example receiver's tests, every
## test against the real stores.
## Each stage prints its time.
test:
	@scripts/stage.sh services scripts/services.sh up
	@scripts/stage.sh test-tools $(MAKE) -s test-tools
	@scripts/stage.sh lint $(MAKE) -s lint
	@scripts/stage.sh openapi-lint scripts/openapi-lint.sh
	@scripts/stage.sh alerts scripts/alerts-check.sh
	@scripts/stage.sh examples scripts/examples-test.sh
	@scripts/stage.sh drop-test-databases scripts/services.sh drop-test-databases
	@scripts/stage.sh cargo-test cargo test --all-targets
	@scripts/stage.sh history scripts/history.sh
	@scripts/stage.sh fuzz scripts/fuzz.sh
	@scripts/stage.sh e2e scripts/e2e.sh

## The create-course page in a real browser (Chromium, installed if absent).
e2e: services
	scripts/e2e.sh

## A real S3-protocol server for the S3 backend's tests (s3s-fs), built once.
test-tools:
	@command -v s3s-fs >/dev/null || cargo install s3s-fs@0.14.1 --locked --features binary

## Benchmarks, not part of `make test` (about 35 minutes: the hygiene simulation waits out a 600 s TTL, the purge erases 200,000 courses): release build, then
## every benchmark (BENCH_ONLY=rediscost,... runs some); writes docs/benchmarks.md and its plots in docs/bench/.
## wrk drives the closed-loop autosave benchmark; redis-benchmark comes with Redis.
bench: services
	@command -v wrk >/dev/null || apt-get install -y wrk
	cargo build --release --workspace
	target/release/draftd-bench

## The history test for SOAK_SECONDS (default 1200): half with faults, half
## without kills, sampling the replicas' RSS, open files and Postgres
## connections; writes docs/soak.md.
soak: services
	SOAK_SECONDS=$${SOAK_SECONDS:-1200} scripts/history.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets
	cargo clippy --test history

## The OpenAPI document against Redocly's recommended rules (Node.js 20+;
## Redocly CLI pinned in tools/openapi-lint); prints how long it took.
openapi-lint:
	scripts/openapi-lint.sh

## The alerting rules (docs/alerts.yml) checked and unit-tested with promtool
## (tests/alerts/), which is unpacked from Debian's prometheus package into
## .tools/prometheus/ if absent; prints how long it took.
alerts:
	scripts/alerts-check.sh

## The example webhook receiver's tests (examples/qdrant-receiver: pytest,
## Qdrant in memory) in a virtualenv under .tools/ made with python3 and pip;
## prints how long it took.
examples:
	scripts/examples-test.sh

services:
	scripts/services.sh up

## Stop the local Redis and Postgres.
stop:
	scripts/services.sh down

# The two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run test stop services dev-token lint

## Start the local Redis and Postgres (installing them if absent) and serve on
## 127.0.0.1:8080 in dev mode.
run: services
	DRAFTD_DEV_MODE=true cargo run -- serve

## Print a dev access token for the demo user (add ARGS="--role service_role").
dev-token:
	@DRAFTD_DEV_MODE=true cargo run -q -- dev-token $(ARGS)

## Everything CI checks: formatting, lints, every test against the real stores.
test: services lint
	scripts/services.sh drop-test-databases
	cargo test --all-targets

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

services:
	scripts/services.sh up

## Stop the local Redis and Postgres.
stop:
	scripts/services.sh down

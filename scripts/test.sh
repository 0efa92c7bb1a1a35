#!/usr/bin/env bash
# `make test`: every test of the project, on a fresh machine too.
#  1. installs PostgreSQL and nats-server from the OS packages when missing;
#  2. starts the test PostgreSQL cluster (127.0.0.1:55433); each test creates its
#     own fresh database there and spawns its own nats-server on a free port;
#  3. builds the workspace once and runs every test (nextest when installed);
#  4. lints (fmt, clippy -D warnings);
#  5. renders and validates the Helm chart and kustomize overlays, and checks the
#     rendered settings against the services' settings loader;
#  6. brings the local stack up and drives it with a generic gRPC client through
#     server reflection only (tests/e2e/reflection_smoke.py), then down.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

test_environment
trap 'bash scripts/test-postgres.sh stop' EXIT

log "building the workspace"
cargo build --workspace --bins --tests

log "lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

log "charts and manifests"
CEP_REQUIRE_BIN=1 CEP_BIN_DIR="$ROOT/target/debug" bash scripts/check-charts.sh

log "local stack smoke test through server reflection"
bash scripts/smoke.sh

log "unit and integration tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
    # nextest does not run documentation examples
    cargo test --workspace --doc
else
    cargo test --workspace --no-fail-fast
fi

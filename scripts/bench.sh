#!/usr/bin/env bash
# `make bench`: benchmarks with their baseline measured in the same run.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_postgres_installed
ensure_nats_installed
export CEP_TEST_DATABASE_URL
CEP_TEST_DATABASE_URL="$(bash scripts/test-postgres.sh start)"
cargo bench -p beneficiaries --bench beneficiaries

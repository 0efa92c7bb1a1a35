#!/usr/bin/env bash
# `make bench`: benchmarks with their baseline measured in the same run.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
test_environment
cargo bench -p beneficiaries --bench beneficiaries

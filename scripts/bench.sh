#!/usr/bin/env bash
# `make bench`: benchmarks with their baseline measured in the same run: the
# beneficiaries service (Register, Get) and the journeys service (Engage, the
# abandonment sweep of 100,000 expired UO1s).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
test_environment
cargo bench -p beneficiaries --bench beneficiaries
cargo bench -p journeys --bench journeys

#!/usr/bin/env bash
# `make bench`: benchmarks with their baseline measured in the same run: the
# beneficiaries service (Register, Get) and the journeys service (Engage, the
# abandonment sweep of 100,000 expired UO1s) and deliverables (render + two
# signatures against rendering alone, the memory of signing a 20 MB PDF) and claims
# (ReceiveClaim against a bare insert) and exchange (the daily file of 1M dossiers
# against COPY, the indicators over 1M units against one SQL statement, the live feed
# and the rebuild in facts per second).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
test_environment
cargo bench -p beneficiaries --bench beneficiaries
cargo bench -p journeys --bench journeys
cargo bench -p deliverables --bench deliverables
cargo bench -p claims --bench claims
cargo bench -p exchange --bench exchange

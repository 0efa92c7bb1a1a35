#!/usr/bin/env bash
# Brings the local stack up (as `make up` does, binaries already built), checks that
# its NATS server admits only the services' users (tests/e2e/nats_accounts_smoke.py),
# drives beneficiaries, journeys, deliverables, claims and exchange with a generic gRPC client through server
# reflection only (tests/e2e/*_smoke.py), and takes it down.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
python="$(grpc_python)"
if (echo >/dev/tcp/127.0.0.1/50051) 2>/dev/null; then
    log "the local stack is already up: testing it as it is, leaving it up"
else
    bash scripts/stack.sh up
    trap 'bash scripts/stack.sh down' EXIT
fi
# shellcheck disable=SC1091
source .local/stack.env
python3 tests/e2e/nats_accounts_smoke.py
CEP_TOKEN="$(cepctl dev-token --role counsellor --lot 8 --subject smoke-test)"
CEP_MANAGER_TOKEN="$(cepctl dev-token --role manager --lot 8 --subject smoke-test)"
export CEP_TOKEN CEP_MANAGER_TOKEN
"$python" tests/e2e/reflection_smoke.py
"$python" tests/e2e/journeys_smoke.py
ensure_pdf_tools
CEP_LOCAL="$ROOT/.local" "$python" tests/e2e/deliverables_smoke.py
CEP_MEDIATION_TOKEN="$(cepctl dev-token --role mediation --lot 8 --subject smoke-test)"
export CEP_MEDIATION_TOKEN
"$python" tests/e2e/claims_smoke.py
CEP_SI_TOKEN="$(cepctl dev-token --role si --lot 8 --subject smoke-test)" CEP_LOCAL="$ROOT/.local" \
    "$python" tests/e2e/exchange_smoke.py

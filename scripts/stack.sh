#!/usr/bin/env bash
# The whole system on this machine, on loopback: PostgreSQL (127.0.0.1:55432, one
# database per service), nats-server with JetStream (127.0.0.1:4222) admitting only
# the services' users (k8s/base/nats/accounts.conf, generated from
# deploy/nats/permissions.toml; a random password each under .local/secrets/) and
# every service built so far (beneficiaries, journeys, deliverables, claims, exchange), each health-checked through
# grpc.health.v1, state under .local/. Usage: stack.sh up|down|status|usage|wait
source "$(dirname "$0")/lib.sh"

LOCAL="$ROOT/.local"
BIN="${CEP_BIN_DIR:-$ROOT/target/debug}"
PG_PORT=55432
NATS_PORT=4222
NATS_MONITOR_PORT=8222
DATABASES=(beneficiaries journeys deliverables claims exchange pra)
# service name, gRPC port, metrics port: the services that exist so far
SERVICES=("beneficiaries 50051 9651" "journeys 50052 9652" "deliverables 50053 9653" "claims 50054 9654" "exchange 50055 9655")
OPERATOR_LOTS="1,8,13,16"
# The stand-in for France compétences' FTPS server (vsftpd, explicit TLS): control
# port and passive range, below the kernel's ephemeral ports.
FTPS_PORT=2121
FTPS_PASSIVE="2122 2131"
# The NATS users of the services, one per service (deploy/nats/permissions.toml).
NATS_ACCOUNTS="$ROOT/k8s/base/nats/accounts.conf"
read -r -a NATS_USERS <<<"$(sed -n 's/^ *user: "\([a-z0-9]*\)"$/\1/p' "$NATS_ACCOUNTS" | tr '\n' ' ')"

secret() { # secret NAME BYTES: generated once, kept under .local/secrets
    local f="$LOCAL/secrets/$1"
    if [ ! -s "$f" ]; then
        mkdir -p "$LOCAL/secrets"; chmod 700 "$LOCAL/secrets"
        head -c "$2" /dev/urandom | base64 -w0 > "$f"
        chmod 600 "$f"
    fi
    cat "$f"
}

nats_password() { # nats_password SERVICE: the service's NATS password (base64 of 24 bytes)
    secret "nats_$1" 24
}

port_open() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # wait_port PORT WHAT
    local i
    for i in $(seq 1 100); do
        port_open "$1" && return 0
        sleep 0.1
    done
    log "$2 did not open port $1 (see $LOCAL/logs)"; return 1
}

# grpc_serving PORT [SERVICE]: grpc.health.v1.Health/Check answers SERVING (curl over
# HTTP/2 cleartext). The request is one gRPC frame holding HealthCheckRequest{service}
# (field 1, a name shorter than 128 bytes); SERVING is the frame of {status: 1}.
grpc_serving() {
    local port="$1" name="${2:-}" body=0
    [ -z "$name" ] || body=$((${#name} + 2))
    {
        printf "\\x00\\x00\\x00\\x00\\x$(printf %02x "$body")"
        [ -z "$name" ] || printf "\\x0a\\x$(printf %02x "${#name}")%s" "$name"
    } | curl -s --max-time 2 --http2-prior-knowledge -X POST --data-binary @- \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>/dev/null \
        | od -An -tx1 | tr -d ' \n' | grep -qx '00000000020801'
}

wait_serving() { # wait_serving PORT WHAT SERVICE: its port open, then SERVING
    wait_port "$1" "$2" || return 1
    command -v curl >/dev/null || return 0 # no curl: the open port is all we can tell
    local i
    for i in $(seq 1 100); do
        grpc_serving "$1" "$3" && return 0
        sleep 0.1
    done
    log "$2 is not SERVING on port $1 (see $LOCAL/logs/$2.log)"; return 1
}

# grpc_service NAME: the gRPC service the readiness of NAME is checked on (the chart's
# readinessService).
grpc_service() {
    case "$1" in
        beneficiaries) echo cep.beneficiaries.v1.BeneficiaryService ;;
        journeys) echo cep.journeys.v1.JourneyService ;;
        deliverables) echo cep.deliverables.v1.DeliverableService ;;
        claims) echo cep.claims.v1.ClaimService ;;
        exchange) echo cep.exchange.v1.ExchangeService ;;
        *) echo "" ;;
    esac
}

service_env() { # the settings of service $1 on ports $2 (gRPC) and $3 (metrics)
    local up; up="$(echo "$1" | tr '[:lower:]' '[:upper:]')"
    echo "CEP_${up}__ENVIRONMENT=local"
    echo "CEP_${up}__DATABASE__URL=postgres://postgres@127.0.0.1:$PG_PORT/cep_$1"
    echo "CEP_${up}__NATS__URL=nats://127.0.0.1:$NATS_PORT"
    echo "CEP_${up}__NATS__USER=$1"
    echo "CEP_${up}__NATS__PASSWORD=$(nats_password "$1")"
    echo "CEP_${up}__AUTH__JWT_SECRET=$(secret jwt_secret 48)"
    echo "CEP_${up}__SERVER__GRPC_LISTEN=127.0.0.1:$2"
    echo "CEP_${up}__SERVER__METRICS_LISTEN=127.0.0.1:$3"
    echo "CEP_${up}__OPERATOR__ID=AB"
    echo "CEP_${up}__OPERATOR__LOTS=$OPERATOR_LOTS"
    if [ "$1" = beneficiaries ]; then
        echo "CEP_BENEFICIARIES__NIR__ENCRYPTION_KEY=$(secret nir_encryption_key 32)"
        echo "CEP_BENEFICIARIES__NIR__INDEX_KEY=$(secret nir_index_key 32)"
        echo "CEP_BENEFICIARIES__PERSONAL__WRAPPING_KEY=$(secret personal_wrapping_key 32)"
    fi
    if [ "$1" = journeys ]; then
        # the local stack sweeps often, so an expired unit closes while you watch
        echo "CEP_JOURNEYS__ABANDONMENT__SWEEP_INTERVAL_SECONDS=5"
        echo "CEP_JOURNEYS__PERSONAL__WRAPPING_KEY=$(secret journeys_wrapping_key 32)"
    fi
    if [ "$1" = deliverables ]; then
        # the test CA of `cepctl pki init`; codes by email land as .eml files in
        # .local/mail/ (the local mail sink); documents under .local/blobs/
        echo "CEP_DELIVERABLES__SIGNING__ISSUER_CERTIFICATE_PATH=$LOCAL/pki/ca.pem"
        echo "CEP_DELIVERABLES__SIGNING__ISSUER_KEY_PATH=$LOCAL/pki/ca.key"
        echo "CEP_DELIVERABLES__SIGNING__LOCATION=Paris"
        echo "CEP_DELIVERABLES__CODE__HASHING_KEY=$(secret code_hashing_key 32)"
        echo "CEP_DELIVERABLES__PERSONAL__WRAPPING_KEY=$(secret deliverables_wrapping_key 32)"
        echo "CEP_DELIVERABLES__MAIL__TRANSPORT=file"
        echo "CEP_DELIVERABLES__MAIL__DIRECTORY=$LOCAL/mail"
        echo "CEP_DELIVERABLES__BLOBS__ROOT=$LOCAL/blobs/deliverables"
        echo "CEP_DELIVERABLES__LETTERHEAD__OPERATOR_NAME='Opérateur CEP de démonstration'"
    fi
    if [ "$1" = claims ]; then
        echo "CEP_CLAIMS__PERSONAL__WRAPPING_KEY=$(secret claims_wrapping_key 32)"
        echo "CEP_CLAIMS__LETTERHEAD__OPERATOR_NAME='Opérateur CEP de démonstration'"
        # the local stack watches the deadlines often, so a breach is alerted while you watch
        echo "CEP_CLAIMS__DEADLINES__SWEEP_INTERVAL_SECONDS=5"
    fi
    if [ "$1" = exchange ]; then
        # the annex-2 daily files land under .local/exchange/lot<NN>/<day>/, and are
        # delivered to the local FTPS stand-in (.local/ftps/root/) when it runs
        echo "CEP_EXCHANGE__EXPORT__DIRECTORY=$LOCAL/exchange"
        if [ -f "$LOCAL/ftps/ready" ]; then
            echo "CEP_EXCHANGE__DELIVERY__ENABLED=true"
            echo "CEP_EXCHANGE__DELIVERY__BACKOFF_MS=500"
            echo "CEP_EXCHANGE__FTPS__HOST=127.0.0.1"
            echo "CEP_EXCHANGE__FTPS__PORT=$FTPS_PORT"
            echo "CEP_EXCHANGE__FTPS__USER=cep-fc"
            echo "CEP_EXCHANGE__FTPS__PASSWORD=$(cat "$LOCAL/ftps/password")"
            echo "CEP_EXCHANGE__FTPS__CA_PEM=$LOCAL/ftps/ca.pem"
        fi
    fi
}

start_nats() {
    local conf="$LOCAL/nats-config"
    if [ -f "$LOCAL/run/nats.pid" ] && kill -0 "$(cat "$LOCAL/run/nats.pid")" 2>/dev/null; then
        if cmp -s "$NATS_ACCOUNTS" "$conf/accounts.conf"; then return 0; fi
        # started before the accounts existed or changed: start it again with them
        log "restarting nats-server with the accounts of $NATS_ACCOUNTS"
        kill "$(cat "$LOCAL/run/nats.pid")"
        local i; for i in $(seq 1 100); do port_open $NATS_PORT || break; sleep 0.1; done
    fi
    if port_open $NATS_PORT; then log "port $NATS_PORT is taken by another process"; return 1; fi
    mkdir -p "$LOCAL/nats" "$conf" "$LOCAL/run" "$LOCAL/logs"
    # nats-server resolves an include relative to the including file
    cp "$NATS_ACCOUNTS" "$conf/accounts.conf"
    printf 'include "accounts.conf"\n' >"$conf/nats.conf"
    (
        # each password reaches the server as CEP_NATS_<SERVICE>_PASSWORD, in double
        # quotes: the server parses the value as configuration text
        local user
        for user in "${NATS_USERS[@]}"; do
            export "CEP_NATS_$(echo "$user" | tr '[:lower:]' '[:upper:]')_PASSWORD=\"$(nats_password "$user")\""
        done
        nohup nats-server -c "$conf/nats.conf" -js -a 127.0.0.1 -p $NATS_PORT -m $NATS_MONITOR_PORT \
            -sd "$LOCAL/nats" >"$LOCAL/logs/nats.log" 2>&1 &
        echo $! >"$LOCAL/run/nats.pid"
    )
    wait_port $NATS_PORT nats-server
}

# start_ftps: the local stand-in for France compétences' FTPS server
# (cep-local-ftps: vsftpd with a certificate of its own CA, .local/ftps/ca.pem). It
# logs in a system account through PAM, so it needs root; without root the stack runs
# without delivery (exchange's DeliverDaily then answers DELIVERY_NOT_CONFIGURED).
start_ftps() {
    local pidf="$LOCAL/run/ftps.pid" i
    if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null && [ -f "$LOCAL/ftps/ready" ]; then return 0; fi
    rm -f "$LOCAL/ftps/ready"
    if [ "$(id -u)" -ne 0 ]; then
        log "not root: no local FTPS server, exchange runs without delivery"; return 0
    fi
    ensure_ftps_server_installed || { log "no vsftpd: exchange runs without delivery"; return 0; }
    [ -x "$BIN/cep-local-ftps" ] || { log "$BIN/cep-local-ftps is missing: build first (make up does)"; return 1; }
    if port_open $FTPS_PORT; then log "port $FTPS_PORT is taken by another process: no local FTPS server"; return 0; fi
    # shellcheck disable=SC2086
    nohup "$BIN/cep-local-ftps" "$LOCAL/ftps" $FTPS_PORT $FTPS_PASSIVE >>"$LOCAL/logs/ftps.log" 2>&1 &
    echo $! >"$pidf"
    for i in $(seq 1 100); do
        [ -f "$LOCAL/ftps/ready" ] && return 0
        kill -0 "$(cat "$pidf")" 2>/dev/null || break
        sleep 0.1
    done
    log "the local FTPS server did not start (see $LOCAL/logs/ftps.log): exchange runs without delivery"
    return 0
}

start_service() { # start_service NAME GRPC METRICS
    local name="$1" pidf="$LOCAL/run/$1.pid"
    if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then return 0; fi
    [ -x "$BIN/$name" ] || { log "$BIN/$name is missing: build first (make up does)"; return 1; }
    if port_open "$2"; then log "port $2 of $name is taken by another process"; return 1; fi
    local attempt
    for attempt in 1 2 3; do
        (
            set -a; eval "$(service_env "$@")"; set +a
            export CEP_CONFIG_DIR="$ROOT/config"
            "$BIN/$name" migrate >>"$LOCAL/logs/$name.log" 2>&1
            nohup "$BIN/$name" serve >>"$LOCAL/logs/$name.log" 2>&1 &
            echo $! >"$pidf"
        )
        wait_serving "$2" "$name" "$(grpc_service "$name")" && return 0
        # the service ports lie in the kernel's ephemeral range: a client socket of
        # another program may hold one for a moment; the service exits, try again
        kill -0 "$(cat "$pidf")" 2>/dev/null && return 1
        log "$name exited (port $2 busy for a moment?), starting it again ($attempt/3)"
        sleep 2
    done
    return 1
}

write_env() {
    {
        echo "# Written by scripts/stack.sh: source it, then use cepctl."
        echo "export CEP_ENVIRONMENT=local"
        echo "export CEP_NATS_URL=nats://127.0.0.1:$NATS_PORT"
        echo "export CEP_NATS_MONITOR=http://127.0.0.1:$NATS_MONITOR_PORT"
        echo "export CEP_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres"
        local s name grpc metrics
        for s in "${SERVICES[@]}"; do
            read -r name grpc metrics <<<"$s"
            local up; up="$(echo "$name" | tr '[:lower:]' '[:upper:]')"
            if [ "$name" = beneficiaries ]; then
                echo "export CEP_${up}_ADDR=127.0.0.1:$grpc"
            else
                echo "export CEP_${up}_ADDR=http://127.0.0.1:$grpc"
            fi
            echo "export CEP_${up}_METRICS=http://127.0.0.1:$metrics/metrics"
        done
        echo "# The settings the stack runs the services with, to start one by hand (stop it"
        echo "# first: make stop); the NIR and wrapping keys stay in $LOCAL/secrets."
        for s in "${SERVICES[@]}"; do
            # shellcheck disable=SC2086
            service_env $s | grep -v -e '__NATS__USER=' -e '__NATS__PASSWORD=' \
                -e '__NIR__' -e '__PERSONAL__' -e '__CODE__HASHING_KEY' -e '__FTPS__PASSWORD=' | sed 's/^/export /'
        done
        echo "export CEP_DEV_JWT_SECRET_FILE=$LOCAL/secrets/jwt_secret"
        echo "# NATS admits only the services' users (deploy/nats/permissions.toml): a service"
        echo "# started by hand, e.g. cargo run -p journeys, connects with these."
        local user user_up
        for user in "${NATS_USERS[@]}"; do
            user_up="$(echo "$user" | tr '[:lower:]' '[:upper:]')"
            echo "export CEP_${user_up}__NATS__USER=$user"
            echo "export CEP_${user_up}__NATS__PASSWORD=$(nats_password "$user")"
        done
        echo "export PATH=\"$BIN:\$PATH\""
        echo "# a token: export CEP_TOKEN=\$(cepctl dev-token --role counsellor --lot 8)"
    } >"$LOCAL/stack.env"
    chmod 600 "$LOCAL/stack.env" # it holds the NATS passwords
}

up() {
    ensure_postgres_installed
    ensure_nats_installed
    mkdir -p "$LOCAL/run" "$LOCAL/logs"
    if port_open $PG_PORT && ! as_pg_owner "$(pg_bindir)/pg_ctl" -D "$LOCAL/postgres/data" status >/dev/null 2>&1; then
        log "port $PG_PORT is taken by another process: stop it, then make up again"; return 1
    fi
    postgres_start "$LOCAL/postgres" $PG_PORT
    local db
    for db in "${DATABASES[@]}"; do
        psql -q -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = 'cep_$db'" | grep -q 1 \
            || psql -q -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -c "CREATE DATABASE cep_$db" >/dev/null
    done
    start_nats
    # the test certificate authority the deliverables service signs under
    "$BIN/cepctl" pki init --dir "$LOCAL/pki" >/dev/null
    start_ftps
    local s
    for s in "${SERVICES[@]}"; do
        # shellcheck disable=SC2086
        start_service $s
    done
    write_env
    log "stack up: source .local/stack.env"
}

down() {
    local f pids=() i
    for f in "$LOCAL"/run/*.pid; do
        [ -f "$f" ] || continue
        pids+=("$(cat "$f")")
        kill "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
    # their ports free before a next `make up` (each drains within its grace time)
    for i in $(seq 1 250); do
        local alive=0 p
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    postgres_stop "$LOCAL/postgres"
    log "stack down"
}

status() {
    local s name grpc metrics
    port_open $PG_PORT && echo "postgres      127.0.0.1:$PG_PORT  up" || echo "postgres      127.0.0.1:$PG_PORT  down"
    port_open $NATS_PORT && echo "nats          127.0.0.1:$NATS_PORT   up" || echo "nats          127.0.0.1:$NATS_PORT   down"
    port_open $FTPS_PORT && echo "ftps (FC)     127.0.0.1:$FTPS_PORT   up" || echo "ftps (FC)     127.0.0.1:$FTPS_PORT   down"
    for s in "${SERVICES[@]}"; do
        read -r name grpc metrics <<<"$s"
        port_open "$grpc" && echo "$name 127.0.0.1:$grpc up" || echo "$name 127.0.0.1:$grpc down"
    done
}

usage() {
    cat <<EOT

The CEP system runs on this machine (Ctrl-C stops it):
$(status | sed 's/^/  /')

  source .local/stack.env
  export CEP_TOKEN=\$(cepctl dev-token --role counsellor --lot 8)
  cepctl beneficiary search --name bern
  cepctl beneficiary get <id> --output json
  cepctl beneficiary eligibility <id> --uo UO1

Any gRPC client works through server reflection, e.g.
  grpcurl -plaintext -H "authorization: Bearer \$CEP_TOKEN" 127.0.0.1:50051 list
  grpcurl -plaintext -H "authorization: Bearer \$CEP_TOKEN" 127.0.0.1:50052 list   # journeys
  grpcurl -plaintext -H "authorization: Bearer \$CEP_TOKEN" 127.0.0.1:50053 list   # deliverables
  grpcurl -plaintext -H "authorization: Bearer \$CEP_TOKEN" 127.0.0.1:50054 list   # claims
  grpcurl -plaintext -H "authorization: Bearer \$CEP_TOKEN" 127.0.0.1:50055 list   # exchange
The daily files of France compétences land in .local/exchange/ and, delivered, in
.local/ftps/root/ (the local FTPS server standing in for France compétences').
The beneficiary's one-time signing codes land in .local/mail/*.eml (the local mail
sink); signed documents verify with: pyhanko sign validate --trust .local/pki/ca.pem
Logs: .local/logs/   Metrics: \$CEP_<SERVICE>_METRICS (e.g. \$CEP_CLAIMS_METRICS)
EOT
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    usage) usage ;;
    wait)
        trap 'down; exit 0' INT TERM
        while :; do sleep 1; done
        ;;
    *) log "usage: $0 up|down|status|usage|wait"; exit 2 ;;
esac

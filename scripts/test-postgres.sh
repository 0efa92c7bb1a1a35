#!/usr/bin/env bash
# Starts (or stops) the PostgreSQL cluster the tests create their fresh databases in,
# state under .local/test-postgres, on 127.0.0.1:55433 or the next free port when
# another program holds it. Prints the admin URL.
source "$(dirname "$0")/lib.sh"
dir="$ROOT/.local/test-postgres"

port_taken() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case "${1:-start}" in
    start)
        ensure_postgres_installed
        bin="$(pg_bindir)"
        if [ -f "$dir/port" ] && as_pg_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
            port="$(cat "$dir/port")"
        else
            port=55433
            while port_taken "$port"; do
                port=$((port + 1))
                [ "$port" -le 55499 ] || { log "no free port in 55433-55499 for the test cluster"; exit 1; }
            done
            postgres_start "$dir" "$port"
            echo "$port" >"$dir/port"
        fi
        echo "postgres://postgres@127.0.0.1:$port/postgres"
        ;;
    stop) postgres_stop "$dir" ;;
    *) log "usage: $0 start|stop"; exit 2 ;;
esac

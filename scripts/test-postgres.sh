#!/usr/bin/env bash
# Starts (or stops) the PostgreSQL cluster the tests create their fresh databases in:
# 127.0.0.1:55433, state under .local/test-postgres. Prints the admin URL.
source "$(dirname "$0")/lib.sh"
dir="$ROOT/.local/test-postgres"
case "${1:-start}" in
    start)
        ensure_postgres_installed
        postgres_start "$dir" 55433
        echo "postgres://postgres@127.0.0.1:55433/postgres"
        ;;
    stop) postgres_stop "$dir" ;;
    *) log "usage: $0 start|stop"; exit 2 ;;
esac

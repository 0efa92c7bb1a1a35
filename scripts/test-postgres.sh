#!/usr/bin/env bash
# Starts (or stops) the PostgreSQL cluster the tests create their fresh databases in,
# state under .local/test-postgres, on 127.0.0.1:55433 or the next free port when
# another program holds it. Prints the admin URL.
#
# Each test leaves its `test_<uuid v7>` database behind for inspection; `start` drops
# those created more than an hour ago (the UUID v7 holds the creation time), once per
# call rather than from every test process.
source "$(dirname "$0")/lib.sh"
dir="$ROOT/.local/test-postgres"

port_taken() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

sweep_stale_databases() {
    local drops
    drops="$("$1/psql" -X -q -At -d "$2" -v ON_ERROR_STOP=1 <<'SQL'
select format('drop database if exists %I with (force);', datname) from pg_database
where datname ~ '^test_[0-9a-f]{12}7[0-9a-f]{19}$'
  and to_timestamp(('x' || substr(datname, 6, 12))::bit(48)::bigint / 1000.0)
      < now() - interval '1 hour'
SQL
)" || { log "cannot list the test databases; none dropped"; return 0; }
    [ -n "$drops" ] || return 0
    log "dropping $(wc -l <<<"$drops") test databases older than an hour"
    "$1/psql" -X -q -d "$2" -v ON_ERROR_STOP=1 >/dev/null <<<"$drops" \
        || log "some stale test databases could not be dropped"
}

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
        url="postgres://postgres@127.0.0.1:$port/postgres"
        sweep_stale_databases "$bin" "$url"
        echo "$url"
        ;;
    stop) postgres_stop "$dir" ;;
    *) log "usage: $0 start|stop"; exit 2 ;;
esac

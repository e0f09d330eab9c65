#!/usr/bin/env bash
# `make test`: install, start RabbitMQ and PostgreSQL, make sure chromium is there, run pytest.
# Extra arguments go to pytest: scripts/test.sh tests/test_config.py -x
# Every database test runs on SQLite and PostgreSQL: pytest gets --postgres=require
# (a missing PostgreSQL fails the run) unless the arguments choose --postgres=... .
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

postgres_mode() {
    local arg mode="" next=""
    for arg in "$@"; do
        if [[ -n $next ]]; then
            mode="$arg" next=""
        elif [[ $arg == --postgres=* ]]; then
            mode="${arg#--postgres=}"
        elif [[ $arg == --postgres ]]; then
            next=1
        fi
    done
    echo "$mode"
}

ensure_venv
ensure_rabbitmq
ensure_espeak
mode="$(postgres_mode "$@")"
case "$mode" in
    "") set -- --postgres=require "$@"; ensure_postgres ;;
    off) say "PostgreSQL not checked (--postgres=off): its test runs show as skipped" ;;
    # auto: use it when it can be had, go on without it otherwise
    auto) (ensure_postgres) || say "PostgreSQL unavailable; --postgres=auto goes on without it" ;;
    *) ensure_postgres ;;
esac
ensure_chromium
ensure_console_assets
# pytest's header and closing lines say which database engines the tests used.
say "pytest $*"
rc=0
"$VENV/bin/pytest" "$@" </dev/null || rc=$?
if ((rc == 5)); then
    echo "error: pytest collected no tests" >&2
fi
exit "$rc"

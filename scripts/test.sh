#!/usr/bin/env bash
# `make test`: install, start RabbitMQ, make sure chromium is there, run pytest.
# Extra arguments go to pytest: scripts/test.sh tests/test_config.py -x
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_venv
ensure_rabbitmq
ensure_chromium
# pytest's header and closing lines say which database engines the tests used.
say "pytest $*"
rc=0
"$VENV/bin/pytest" "$@" </dev/null || rc=$?
if ((rc == 5)); then
    echo "error: pytest collected no tests" >&2
fi
exit "$rc"

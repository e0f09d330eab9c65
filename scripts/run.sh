#!/usr/bin/env bash
# `make run`: install, start RabbitMQ, upgrade the schema, start every Procfile process.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_venv
ensure_rabbitmq
say "flask --app app db upgrade"
"$VENV/bin/flask" --app app db upgrade </dev/null
say "honcho start (Ctrl-C stops every process)"
exec "$VENV/bin/honcho" start "$@"

#!/usr/bin/env bash
# `make run`: install, start RabbitMQ, upgrade the schema, seed the demo once,
# start every Procfile process (pbxsim included) with honcho.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_venv
ensure_rabbitmq
ensure_espeak
ensure_console_assets
# The demo runs the second FastAGI daemon of the Procfile as the dialplan's
# fallback endpoint; a .env (read by honcho and flask) may say otherwise.
export AGI_FALLBACK_HOST="${AGI_FALLBACK_HOST-127.0.0.1}"
# The demo runs on the published SECRET_KEY, which a production process refuses.
export DEMO="${DEMO-1}"
say "flask --app app db upgrade"
"$VENV/bin/flask" --app app db upgrade </dev/null
say "flask --app app demo seed (creates the demo user and campaign once)"
"$VENV/bin/flask" --app app demo seed </dev/null
say "honcho start (Ctrl-C stops every process)"
exec "$VENV/bin/honcho" start "$@"

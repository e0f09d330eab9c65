# Shared helpers for the scripts in this folder. Source it; do not run it.
# Every step is idempotent, non-interactive and works with no stdin.

set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
APT_UPDATED=""

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# port_open HOST PORT: true when something accepts a TCP connection there.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# wait_port HOST PORT SECONDS WHAT: poll until the port answers or fail.
wait_port() {
    local deadline=$((SECONDS + $3))
    until port_open "$1" "$2"; do
        ((SECONDS < deadline)) || die "$4 did not answer on $1:$2 within $3 s"
        sleep 0.5
    done
}

apt_install() {
    command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
    [[ $(id -u) == 0 ]] || die "installing $* needs root (run as root or install it first)"
    if [[ -z $APT_UPDATED ]]; then
        say "apt-get update"
        apt-get -o DPkg::Lock::Timeout=600 update -q </dev/null
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@" </dev/null
}

# ensure_venv: .venv exists and has requirements.txt installed. The install is
# skipped when requirements.txt has not changed since the last one (stamp file).
ensure_venv() {
    command -v "$PYTHON" >/dev/null || apt_install python3 python3-venv
    if [[ ! -x $VENV/bin/pip ]]; then
        rm -rf "$VENV"
        say "creating $VENV"
        if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
            # Debian ships venv/ensurepip separately.
            rm -rf "$VENV"
            apt_install python3-venv
            "$PYTHON" -m venv "$VENV"
        fi
    fi
    local stamp="$VENV/.requirements.sha256" want
    want="$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)"
    if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
        say "requirements.txt unchanged since last install"
        return
    fi
    say "pip install -r requirements.txt"
    # pip warns once per package about extra index folders that do not list it: noise.
    "$VENV/bin/pip" install -q -r "$ROOT/requirements.txt" </dev/null \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    echo "$want" >"$stamp"
}

# ensure_rabbitmq: installed, running on 127.0.0.1:5672, management UI on :15672.
ensure_rabbitmq() {
    if ! command -v rabbitmq-server >/dev/null && [[ ! -x /usr/sbin/rabbitmq-server ]]; then
        apt_install rabbitmq-server
    fi
    export PATH="$PATH:/usr/sbin:/sbin"
    if port_open 127.0.0.1 5672; then
        say "RabbitMQ answers on 127.0.0.1:5672"
    else
        say "starting RabbitMQ (rabbitmq-server -detached)"
        rabbitmq-server -detached </dev/null || true  # fails harmlessly if a node is already booting
        local deadline=$((SECONDS + 180))
        # await_startup needs the node's distribution port up; retry until it is.
        until rabbitmqctl -q await_startup --timeout 60 </dev/null >/dev/null 2>&1; do
            ((SECONDS < deadline)) || die "RabbitMQ did not start within 180 s (see /var/log/rabbitmq/)"
            sleep 1
        done
        wait_port 127.0.0.1 5672 60 "RabbitMQ"
        say "RabbitMQ started"
    fi
    if port_open 127.0.0.1 15672; then
        say "RabbitMQ management UI answers on :15672"
    else
        say "enabling rabbitmq_management"
        rabbitmq-plugins -q enable rabbitmq_management </dev/null >/dev/null
        wait_port 127.0.0.1 15672 60 "RabbitMQ management UI"
        say "RabbitMQ management UI on http://127.0.0.1:15672 (guest/guest)"
    fi
}

# ensure_chromium: Debian's chromium, for the browser tests.
ensure_chromium() {
    if command -v chromium >/dev/null; then
        say "chromium present"
    else
        apt_install chromium
    fi
}

# --- PostgreSQL: what the tests connect to (tests/conftest.py PG_ADMIN) ----------

PG_PORT="${PG_PORT:-5432}"
# First matching line wins in pg_hba.conf: ours goes on top.
PG_HBA_LINE="host all postgres 127.0.0.1/32 trust"
PG_HBA_NOTE="# callcast tests: postgres from 127.0.0.1 without a password (scripts/lib.sh)"

# pg_connect_error: connect as the tests do (127.0.0.1, user postgres, no password);
# print why not and fail when that does not work.
pg_connect_error() {
    "$VENV/bin/python" - "$PG_PORT" 2>&1 <<'PY'
import sys

import psycopg2

try:
    psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user="postgres",
                     dbname="postgres", connect_timeout=3).close()
except psycopg2.Error as exc:
    print(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    sys.exit(1)
PY
}

# pg_start_cluster: start the Debian cluster on PG_PORT (create one if there is none).
# pg_ctlcluster works without systemd (it runs pg_ctl itself when systemd is not PID 1).
pg_start_cluster() {
    local version name port status _ found=""
    while read -r version name port status _; do
        [[ $port == "$PG_PORT" ]] || continue
        found=1
        if [[ $status != online* ]]; then
            say "starting PostgreSQL cluster $version/$name (pg_ctlcluster)"
            pg_ctlcluster "$version" "$name" start </dev/null
        fi
    done < <(pg_lsclusters --no-header 2>/dev/null)
    [[ -n $found ]] && return
    version="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    name=main
    [[ -d /etc/postgresql/$version/main ]] && name=callcast
    say "creating PostgreSQL cluster $version/$name on port $PG_PORT"
    pg_createcluster --port "$PG_PORT" --start "$version" "$name" </dev/null
}

# pg_trust_tests: let postgres connect from 127.0.0.1 without a password (a fresh
# Debian cluster asks for one), then reload. Only called when that connection fails.
pg_trust_tests() {
    [[ $(id -u) == 0 ]] || die "PostgreSQL refuses user postgres from 127.0.0.1 without a password: add \"$PG_HBA_LINE\" on top of its pg_hba.conf (needs root)"
    local hba
    # Debian's clusters let the postgres OS user in over the local socket (peer).
    hba="$(runuser -u postgres -- psql -p "$PG_PORT" -XAtqc "SHOW hba_file" </dev/null)" \
        || die "cannot reach the local PostgreSQL on port $PG_PORT as the postgres OS user to find its pg_hba.conf"
    if ! grep -qxF "$PG_HBA_LINE" "$hba"; then
        say "adding \"$PG_HBA_LINE\" on top of $hba"
        # cat > keeps the file's owner and mode.
        { printf '%s\n%s\n' "$PG_HBA_NOTE" "$PG_HBA_LINE"; cat "$hba"; } >"$hba.callcast.tmp"
        cat "$hba.callcast.tmp" >"$hba"
        rm -f "$hba.callcast.tmp"
    fi
    say "reloading PostgreSQL's configuration"
    runuser -u postgres -- psql -p "$PG_PORT" -XAtqc "SELECT pg_reload_conf()" </dev/null >/dev/null
}

# ensure_postgres: installed, running on 127.0.0.1:PG_PORT, and letting the tests in as
# user postgres without a password. A server that already lets them in is left alone.
# Needs ensure_venv first (the check connects with the tests' own driver).
ensure_postgres() {
    local error
    if error="$(pg_connect_error)"; then
        say "PostgreSQL answers on 127.0.0.1:$PG_PORT as postgres"
        return
    fi
    export PATH="$PATH:/usr/sbin:/sbin"
    if ! port_open 127.0.0.1 "$PG_PORT"; then
        if ! command -v pg_ctlcluster >/dev/null || ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
            apt_install postgresql
        fi
        pg_start_cluster
        wait_port 127.0.0.1 "$PG_PORT" 60 "PostgreSQL"
        if error="$(pg_connect_error)"; then
            say "PostgreSQL started on 127.0.0.1:$PG_PORT"
            return
        fi
    fi
    say "PostgreSQL refuses the tests' connection: $error"
    pg_trust_tests
    error="$(pg_connect_error)" \
        || die "PostgreSQL on 127.0.0.1:$PG_PORT still refuses user postgres without a password: $error"
    say "PostgreSQL lets the tests in on 127.0.0.1:$PG_PORT as postgres"
}

# ensure_espeak: Debian's espeak-ng, the default text-to-speech engine of personalised
# messages (app/messages/tts.py; TTS_COMMAND names another).
ensure_espeak() {
    if command -v espeak-ng >/dev/null; then
        say "espeak-ng present"
    else
        apt_install espeak-ng
    fi
}

# --- the console's browser files and translations ---------------------------------

# ensure_console_assets: Chart.js (served from app/web/static/vendor, never a CDN)
# and axe-core (injected by the browser tests) from npm at the package-lock.json
# versions, and the compiled translation catalogues (.mo, not committed).
ensure_console_assets() {
    command -v npm >/dev/null || apt_install nodejs npm
    local stamp="$ROOT/node_modules/.package-lock.sha256" want
    want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
        say "npm ci (chart.js, axe-core)"
        (cd "$ROOT" && npm ci --no-audit --no-fund </dev/null)
        echo "$want" >"$stamp"
    fi
    mkdir -p "$ROOT/app/web/static/vendor"
    cp -u "$ROOT/node_modules/chart.js/dist/chart.umd.min.js" "$ROOT/app/web/static/vendor/"
    say "pybabel compile (console translations)"
    "$VENV/bin/pybabel" compile -d "$ROOT/app/translations" </dev/null
}

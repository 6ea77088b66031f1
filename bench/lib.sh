# Shared helpers for the benchmark scripts: a throw-away PostgreSQL, pgbouncer and custos on
# free loopback ports, all stopped by PID on exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
WORK="$(mktemp -d /tmp/custos-bench.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
AS_PG=()
if [[ $(id -u) -eq 0 ]]; then AS_PG=(runuser -u postgres --); fi

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ -f "$WORK/pgdata/postmaster.pid" ]]; then
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "port $1 did not open" >&2
  return 1
}

custos_bin() {
  if [[ -n "${CUSTOS_BIN:-}" ]]; then echo "$CUSTOS_BIN"; return; fi
  ls "$REPO"/build/release/custos 2>/dev/null || ls "$REPO"/build/*/custos | head -1
}

start_postgres() {
  PG_PORT=$(free_port)
  APP_PASSWORD="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  mkdir -p "$WORK/pgdata" "$WORK/sock"
  chown -R postgres "$WORK" 2>/dev/null || true
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$WORK/pgdata" -U postgres --auth=trust -E UTF8 --locale=C \
    --no-sync >/dev/null
  cat >>"$WORK/pgdata/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 256MB
CONF
  # Everything but the superuser's local socket uses SCRAM, like a production target.
  cat >"$WORK/pgdata/pg_hba.conf" <<HBA
local all postgres trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
HBA
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/pg.log" -w start >/dev/null
  psql_super -c "create role app_rw login password '$APP_PASSWORD'" >/dev/null
  psql_super -c "create database orders owner app_rw" >/dev/null
}

psql_super() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "${DB:-postgres}" "$@"; }

make_certs() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/tls.key" \
    -out "$WORK/tls.crt" -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
    >/dev/null 2>&1
  chown postgres "$WORK/tls.key" "$WORK/tls.crt" 2>/dev/null || true
  chmod 600 "$WORK/tls.key"
}

start_pgbouncer() {
  BOUNCER_PORT=$(free_port)
  mkdir -p "$WORK/bouncer"
  echo "\"app_rw\" \"$APP_PASSWORD\"" >"$WORK/bouncer/userlist.txt"
  cat >"$WORK/bouncer/pgbouncer.ini" <<INI
[databases]
orders = host=127.0.0.1 port=$PG_PORT dbname=orders
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/bouncer/userlist.txt
pool_mode = session
max_client_conn = 400
default_pool_size = 100
client_tls_sslmode = require
client_tls_key_file = $WORK/tls.key
client_tls_cert_file = $WORK/tls.crt
logfile = $WORK/bouncer/pgbouncer.log
INI
  chown -R postgres "$WORK/bouncer" 2>/dev/null || true
  "${AS_PG[@]}" pgbouncer "$WORK/bouncer/pgbouncer.ini" >/dev/null 2>&1 &
  PIDS+=($!)
  wait_port "$BOUNCER_PORT"
}

# The custos instances started so far, by name: their port and API key.
declare -gA CUSTOS_PORTS=() CUSTOS_KEYS=()

# start_custos NAME [policy yaml]: a custos in front of the database with its own port, key and
# data dir, from $(custos_bin); `CUSTOS_BIN=other/custos start_custos NAME` runs another build
# with the same config. The policy defaults to `default: allow`. conn_env NAME reaches it.
start_custos() {
  local name=$1 policy=${2:-    default: allow}
  local port key sha dir
  port=$(free_port)
  key="cst_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  sha=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
  dir="$WORK/custos-$port"
  mkdir -p "$dir"
  cat >"$dir/custos.yaml" <<YAML
listen: { postgres: 127.0.0.1:$port }
tls: { cert: $WORK/tls.crt, key: $WORK/tls.key }
data_dir: $dir/data
log_level: warn
threads: ${CUSTOS_THREADS:-0}
identities:
  - name: bench
    api_keys: [{ sha256: "$sha" }]
connections:
  - name: orders
    type: postgres
    address: 127.0.0.1:$PG_PORT
    database: orders
    credentials: { username: app_rw, password: env:BENCH_DB_PASSWORD }
policies:
  - name: bench
    identities: [bench]
    connections: [orders]
$policy
YAML
  BENCH_DB_PASSWORD="$APP_PASSWORD" "$(custos_bin)" serve \
    --config "$dir/custos.yaml" >"$dir/log" 2>&1 &
  PIDS+=($!)
  wait_port "$port"
  CUSTOS_PORTS[$name]=$port
  CUSTOS_KEYS[$name]=$key
}

# conn_env direct|pgbouncer|NAME: the libpq environment (PGPORT=... PGUSER=...) that reaches
# PostgreSQL directly, through pgbouncer, or through the custos started as NAME.
conn_env() {
  case "$1" in
    direct) echo "PGPORT=$PG_PORT PGUSER=app_rw PGPASSWORD=$APP_PASSWORD PGSSLMODE=disable" ;;
    pgbouncer) echo "PGPORT=$BOUNCER_PORT PGUSER=app_rw PGPASSWORD=$APP_PASSWORD PGSSLMODE=require" ;;
    *) echo "PGPORT=${CUSTOS_PORTS[$1]} PGUSER=bench PGPASSWORD=${CUSTOS_KEYS[$1]} PGSSLMODE=require" ;;
  esac
}

# pgbench_tps TARGET pgbench-args...: one pgbench run against the orders database through
# TARGET (as for conn_env); prints its TPS.
pgbench_tps() {
  local envs
  envs=$(conn_env "$1")
  env $envs pgbench -h 127.0.0.1 -n "${@:2}" orders 2>/dev/null | awk '/^tps = / {print $3; exit}'
}

# rotate ROUND ITEMS...: the items rotated left by ROUND-1, one per line. Each round of a run
# starts with another target: on a shared 2-core machine the slot a run gets in the sequence
# (what ran just before it, what the host is doing) shifts its TPS by several per cent, and a
# fixed order would hand that to the same target every round. Two items alternate: A B, B A, ...
rotate() {
  local round=$1; shift
  local items=("$@") i
  for i in "${!items[@]}"; do echo "${items[$(((i + round - 1) % ${#items[@]}))]}"; done
}

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
median() { python3 -c "import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

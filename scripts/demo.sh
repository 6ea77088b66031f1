#!/usr/bin/env bash
# The custos demo on a fresh Debian machine: installs dependencies, builds, starts a local
# PostgreSQL target and custos in front of it, and drives it with psql as a CI job would:
# a query through the gateway with an injected credential, a denied command, a masked value,
# and the recorded, verifiable session.
#   scripts/demo.sh            (KEEP=1 leaves everything running and prints how to connect)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

scripts/install-deps.sh >/dev/null
scripts/build.sh release >/dev/null
CUSTOS="$REPO/build/release/custos"

source "$REPO/bench/lib.sh"   # throw-away PostgreSQL/custos helpers, cleaned up on exit
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting a PostgreSQL target (only custos knows its app_rw password)"
start_postgres
make_certs
DB=orders psql_super <<'SQL' >/dev/null
create table customers (id int primary key, name text, email text, ssn text, card text);
insert into customers values
  (1, 'Ada Lovelace', 'ada@example.com', '123-45-6789', '4111 1111 1111 1111'),
  (2, 'Alan Turing',  'alan@example.org', '219-09-9999', '5500 0000 0000 0004');
alter table customers owner to app_rw;
SQL

say "starting custos"
CUSTOS_PORT=$(free_port); ADMIN_PORT=$(free_port)
API_KEY="cst_demo_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
KEY_SHA=$(printf '%s' "$API_KEY" | sha256sum | cut -d' ' -f1)
DEMO="$WORK/demo"; mkdir -p "$DEMO"
cat >"$DEMO/custos.yaml" <<YAML
listen: { postgres: 127.0.0.1:$CUSTOS_PORT, admin: 127.0.0.1:$ADMIN_PORT }
tls: { cert: $WORK/tls.crt, key: $WORK/tls.key }
data_dir: $DEMO/data
identities:
  - name: ci-deploy
    groups: [ci]
    api_keys: [{ sha256: "$KEY_SHA" }]     # SHA-256 of the job's API key; the key itself is not stored
connections:
  - name: orders
    type: postgres
    address: 127.0.0.1:$PG_PORT
    database: orders
    credentials: { username: app_rw, password: env:ORDERS_DB_PASSWORD }
policies:
  - name: ci-on-orders
    identities: [group:ci]
    connections: [orders]
    rules:
      - deny:  { kinds: [ddl], message: "no DDL from CI jobs" }
      - allow: { kinds: [readonly] }
      - allow: { kinds: [insert, update, delete], tables: [customers], require_where: true }
    mask:
      - { columns: [customers.ssn], strategy: redact }
      - { columns: [customers.email], strategy: partial, keep_last: 4 }
      - { detect: [credit_card], strategy: partial, keep_last: 4 }
YAML
"$CUSTOS" check-config --config "$DEMO/custos.yaml"
ORDERS_DB_PASSWORD="$APP_PASSWORD" "$CUSTOS" serve --config "$DEMO/custos.yaml" >"$DEMO/custos.log" 2>&1 &
PIDS+=($!)
wait_port "$CUSTOS_PORT"

gw() { PGPASSWORD="$API_KEY" psql -X "host=127.0.0.1 port=$CUSTOS_PORT user=ci-deploy dbname=orders sslmode=require" "$@"; }

say "a CI job queries through custos with its own API key (user=identity, dbname=connection)"
echo "\$ PGPASSWORD=\$API_KEY psql \"host=127.0.0.1 port=$CUSTOS_PORT user=ci-deploy dbname=orders sslmode=require\""
gw -c "select current_user as target_role, count(*) as customers from customers"

say "masking: SSNs, emails and card numbers are masked before they leave custos"
gw -c "select name, email, ssn, card from customers order by id"
echo "(and values derived from a masked column are masked whole, however they are computed:)"
gw -c "select name, reverse(ssn) as reversed_ssn, upper(email) as email_upper from customers order by id"
echo "(the same rows read directly from the target, as the DBA sees them:)"
DB=orders psql_super -c "select name, email, ssn, card from customers order by id"

say "statement policy: a DELETE without WHERE and a DROP are refused before they reach the target"
gw -c "delete from customers" || true
gw -c "/* looks harmless */ with x as (delete from customers returning id) select count(*) from x" || true
gw -c "drop table customers" || true
"$CUSTOS" policy test --config "$DEMO/custos.yaml" --identity ci-deploy --connection orders \
  "update customers set email = 'x' where id = 1" || true
gw -c "select count(*) as customers_still_there from customers"

say "a wrong key is refused with one generic message"
PGPASSWORD=wrong psql -X "host=127.0.0.1 port=$CUSTOS_PORT user=ci-deploy dbname=orders sslmode=require" -c "select 1" || true

say "the recorded sessions"
sleep 0.3
"$CUSTOS" sessions list --config "$DEMO/custos.yaml"
SID=$("$CUSTOS" sessions list --config "$DEMO/custos.yaml" | awk '$6=="closed" {print $1; exit}')
"$CUSTOS" sessions show "$SID" --config "$DEMO/custos.yaml"

say "verifying every recording's hash chain"
"$CUSTOS" verify --config "$DEMO/custos.yaml"

say "the target password appears nowhere in custos's logs or recordings"
if grep -rqF "$APP_PASSWORD" "$DEMO"; then echo "LEAK: target password found" >&2; exit 1; fi
echo "ok: not found in $(find "$DEMO" -type f | wc -l) files"

if [[ "${KEEP:-0}" == "1" ]]; then
  say "custos is running; connect with:"
  echo "PGPASSWORD=$API_KEY psql \"host=127.0.0.1 port=$CUSTOS_PORT user=ci-deploy dbname=orders sslmode=require\""
  echo "admin: http://127.0.0.1:$ADMIN_PORT/metrics   (Ctrl-C to stop)"
  wait
fi
say "demo finished"

#!/usr/bin/env bash
# Masking cost on a 1M-row `select *` (and COPY), in one run: direct vs custos with no matching
# mask rule vs custos masking 4 columns with every detector on. Prints medians and ratios.
#   bench/mask.sh            REPS=5 ROWS=1000000 bench/mask.sh
source "$(dirname "$0")/lib.sh"
REPS=${REPS:-3}
ROWS=${ROWS:-1000000}

start_postgres
make_certs
DB=orders psql_super -q <<SQL >/dev/null
create table people as
  select g as id, 'user' || g || '@example.com' as email,
         lpad((g % 899 + 100)::text, 3, '0') || '-' || lpad((g % 99 + 1)::text, 2, '0') || '-' ||
           lpad((g % 9999 + 1)::text, 4, '0') as ssn,
         '4111 1111 1111 1111' as card,
         'note for customer ' || g || ' about order ' || (g * 7) as note,
         md5(g::text) as h
  from generate_series(1, $ROWS) g;
alter table people owner to app_rw;
SQL
export BENCH_MASK_KEY="bench-mask-key-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
start_custos plain "    default: allow
    mask:
      - { columns: [nobody.nothing], strategy: redact }"
start_custos mask "    default: allow
    mask:
      - { columns: [people.email], strategy: partial }
      - { columns: [people.ssn], strategy: redact }
      - { columns: [people.card], strategy: hmac }
      - { columns: [people.h], strategy: fpe }
      - { detect: [email, credit_card, us_ssn, iban, phone, ipv4, ipv6, aws_access_key, aws_secret_key, jwt, private_key, api_token], strategy: redact }
mask_key: env:BENCH_MASK_KEY"

timeit() {  # envs sql
  local t0 t1
  t0=$(date +%s.%N)
  env $1 psql -X -q -h 127.0.0.1 -d orders -o /dev/null -c "$2" >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print($t1-$t0)"
}
printf '%-24s %9s %12s %12s %12s %12s\n' "$ROWS rows (median s)" direct custos-nomask custos-mask nomask/direct mask/direct
for q in "select * from people" "copy people to stdout"; do
  d=() n=() m=()
  for r in $(seq 1 "$REPS"); do
    d+=("$(timeit "$(conn_env direct)" "$q")")
    n+=("$(timeit "$(conn_env plain)" "$q")")
    m+=("$(timeit "$(conn_env mask)" "$q")")
  done
  D=$(median "${d[@]}"); N=$(median "${n[@]}"); M=$(median "${m[@]}")
  printf '%-24s %9.3f %12.3f %12.3f %12s %12s\n' "$q" "$D" "$N" "$M" "$(ratio "$N" "$D")" "$(ratio "$M" "$D")"
done

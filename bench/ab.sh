#!/usr/bin/env bash
# Two custos instances side by side behind one PostgreSQL, pgbench -S in alternating order,
# to measure one difference at a time where a shared machine's noise (±10% between runs) would
# hide it in bench/pgbench.sh:
#   A=old/custos B=build/release/custos bench/ab.sh                  # two builds, same policy
#   POLICY_B='    rules:
#       - allow: { kinds: [readonly] }' bench/ab.sh                  # default allow vs a policy
# A and B default to this tree's binary, POLICY_A/POLICY_B (or POLICY) to `default: allow`.
# Prints the median TPS of each and B/A per protocol mode.
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-6}
MODES=${MODES:-simple extended prepared}
A=${A:-$(custos_bin)}
B=${B:-$(custos_bin)}

start_postgres
make_certs
CUSTOS_BIN=$A start_custos A "${POLICY_A:-${POLICY:-    default: allow}}"
CUSTOS_BIN=$B start_custos B "${POLICY_B:-${POLICY:-    default: allow}}"
env $(conn_env direct) pgbench -h 127.0.0.1 -i -s 10 -q orders >/dev/null 2>&1

declare -A TPS
echo "pgbench -S: $ROUNDS rounds x ${DURATION}s, -c 8 -j 2, scale 10; A=$A B=$B"
for round in $(seq 1 "$ROUNDS"); do
  for mode in $MODES; do
    for t in $(rotate "$round" A B); do
      tps=$(pgbench_tps "$t" -M "$mode" -c 8 -j 2 -T "$DURATION" -S)
      TPS["$mode $t"]+="$tps "
      printf 'round %d  %-9s %s %10.1f tps\n' "$round" "$mode" "$t" "$tps"
    done
  done
done
echo
printf '%-10s %12s %12s %6s\n' mode A B B/A
for mode in $MODES; do
  a=$(median ${TPS["$mode A"]})
  b=$(median ${TPS["$mode B"]})
  printf '%-10s %12.1f %12.1f %6s\n' "$mode" "$a" "$b" "$(ratio "$b" "$a")"
done

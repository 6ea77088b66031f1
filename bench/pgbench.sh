#!/usr/bin/env bash
# custos vs pgbouncer vs direct, in one run, on this machine.
#   bench/pgbench.sh                  # defaults: 3 rounds x 10 s per workload
#   ROUNDS=5 DURATION=20 bench/pgbench.sh
# Prints TPS per target and the ratios custos/pgbouncer and custos/direct for pgbench -S in
# simple, extended and prepared mode and for TPC-B, interleaved round by round; then wall-time
# ratios for a 1M-row `select *` and `COPY ... TO STDOUT`. Recording is on, as in production.
# With POLICY=readonly a second custos runs with a readonly statement policy and is reported
# beside the first.
# With OTHER_CUSTOS=/path/to/custos another build runs too, with the same config on a port of
# its own, and every table adds its TPS (or time) and the ratio c/other of this build to it; the
# two custos runs of a workload are back to back in alternating order, as in bench/ab.sh:
#   OTHER_CUSTOS=/tmp/custos-main bench/pgbench.sh
# This build is $CUSTOS_BIN, else build/release/custos.
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-8}

start_postgres
make_certs
start_pgbouncer
start_custos custos
TARGETS=(direct pgbouncer custos)
if [[ "${POLICY:-}" == "readonly" ]]; then
  start_custos custos_policy "    rules:
      - allow: { kinds: [readonly] }
      - allow: { kinds: [insert, update], tables: [\"pgbench_*\"] }"
  TARGETS+=(custos_policy)
fi
OTHER_CUSTOS=${OTHER_CUSTOS:-}
ROTATED=("${TARGETS[@]}")  # custos_other is not rotated but paired with custos
if [[ -n $OTHER_CUSTOS ]]; then
  CUSTOS_BIN=$OTHER_CUSTOS start_custos custos_other
  TARGETS+=(custos_other)
fi

env $(conn_env direct) pgbench -h 127.0.0.1 -i -s 10 -q orders >/dev/null 2>&1

declare -A TPS
run_pgbench() {  # target mode extra-args...
  local target=$1 mode=$2; shift 2
  pgbench_tps "$target" -M "$mode" -c "$CLIENTS" -j 2 -T "$DURATION" "$@"
}

WORKLOADS=("S simple" "S extended" "S prepared" "B simple")
echo "pgbench: $ROUNDS rounds x ${DURATION}s, -c $CLIENTS -j 2, scale 10; targets: ${TARGETS[*]}"
[[ -n $OTHER_CUSTOS ]] && echo "custos=$(custos_bin) other=$OTHER_CUSTOS"
for round in $(seq 1 "$ROUNDS"); do
  # Each round starts with another target (see rotate in lib.sh). The other build runs right
  # before or after this one, alternately, so c/other per round compares neighbouring runs.
  order=()
  for t in $(rotate "$round" "${ROTATED[@]}"); do
    if [[ $t == custos && -n $OTHER_CUSTOS ]]; then order+=($(rotate "$round" custos custos_other));
    else order+=("$t"); fi
  done
  for w in "${WORKLOADS[@]}"; do
    set -- $w
    for t in "${order[@]}"; do
      if [[ $1 == S ]]; then tps=$(run_pgbench "$t" "$2" -S); else tps=$(run_pgbench "$t" "$2"); fi
      TPS["$1 $2 $t"]+="$tps "
      printf 'round %d  %-3s %-9s %-14s %10.1f tps\n' "$round" "-$1" "$2" "$t" "$tps"
    done
  done
done

echo
printf '%-16s %12s %12s %12s %10s %10s' workload direct pgbouncer custos c/bouncer c/direct
[[ " ${TARGETS[*]} " == *custos_policy* ]] && printf ' %14s %10s %12s' custos+policy p/bouncer p/custos
[[ -n $OTHER_CUSTOS ]] && printf ' %12s %10s' other c/other
echo
for w in "${WORKLOADS[@]}"; do
  set -- $w
  d=$(median ${TPS["$1 $2 direct"]}); b=$(median ${TPS["$1 $2 pgbouncer"]}); c=$(median ${TPS["$1 $2 custos"]})
  printf '%-16s %12.1f %12.1f %12.1f %10s %10s' "-$1 $2" "$d" "$b" "$c" "$(ratio "$c" "$b")" "$(ratio "$c" "$d")"
  if [[ " ${TARGETS[*]} " == *custos_policy* ]]; then
    p=$(median ${TPS["$1 $2 custos_policy"]})
    printf ' %14.1f %10s %12s' "$p" "$(ratio "$p" "$b")" "$(ratio "$p" "$c")"
  fi
  if [[ -n $OTHER_CUSTOS ]]; then
    o=$(median ${TPS["$1 $2 custos_other"]})
    printf ' %12.1f %10s' "$o" "$(ratio "$c" "$o")"
  fi
  echo
done
# Runs of one workload in one round are back to back, so their ratio drifts less with the
# machine's load than a ratio of medians; both are shown. The order of targets rotates by round.
per_round() {  # numerator-target denominator-target
  local num=$1 den=$2
  echo
  echo "$num/$den per round (median):"
  for w in "${WORKLOADS[@]}"; do
    set -- $w
    read -ra bs <<<"${TPS["$1 $2 $den"]}"
    read -ra cs <<<"${TPS["$1 $2 $num"]}"
    rs=()
    for i in "${!bs[@]}"; do rs+=("$(ratio "${cs[$i]}" "${bs[$i]}")"); done
    printf '  %-14s %s  (%s)\n' "-$1 $2" "${rs[*]}" "$(median "${rs[@]}")"
  done
}
per_round custos pgbouncer
[[ -n $OTHER_CUSTOS ]] && per_round custos custos_other

# Large results: wall time of 1M rows through each target (median of REPS runs).
REPS=${REPS:-3}
DB=orders psql_super -c "drop table if exists big; create table big as select g as id, md5(g::text) as h, g*2 as n, now() as t from generate_series(1,1000000) g; alter table big owner to app_rw" >/dev/null
timeit() {  # target sql
  local envs; envs=$(conn_env "$1")
  local t0 t1
  t0=$(date +%s.%N)
  env $envs psql -X -q -h 127.0.0.1 -d orders -o /dev/null -c "$2" >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print($t1-$t0)"
}
echo
LARGE=(direct pgbouncer custos)
[[ -n $OTHER_CUSTOS ]] && LARGE+=(custos_other)
printf '%-28s %10s %10s %10s %10s %10s' "large result (median s)" direct pgbouncer custos c/direct c/bouncer
[[ -n $OTHER_CUSTOS ]] && printf ' %10s %10s' other c/other
echo
for q in "select * from big" "copy big to stdout"; do
  declare -A W=()
  for r in $(seq 1 "$REPS"); do
    for t in "${LARGE[@]}"; do W[$t]+="$(timeit "$t" "$q") "; done
  done
  d=$(median ${W[direct]}); b=$(median ${W[pgbouncer]}); c=$(median ${W[custos]})
  printf '%-28s %10.3f %10.3f %10.3f %10s %10s' "$q" "$d" "$b" "$c" "$(ratio "$c" "$d")" "$(ratio "$c" "$b")"
  if [[ -n $OTHER_CUSTOS ]]; then
    o=$(median ${W[custos_other]})
    printf ' %10.3f %10s' "$o" "$(ratio "$c" "$o")"
  fi
  echo
done

#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs every test: unit (GoogleTest), integration (real
# PostgreSQL started in a temp dir + psql/pgbench/libpq/psycopg2/node-postgres through custos,
# the approvals page in headless Chromium),
# then the unit tests again under ASan+UBSan.
#   scripts/test.sh            # everything
#   SKIP_ASAN=1 scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh release

# node-postgres for the Node.js client test (from the npm registry, pinned by package-lock).
# node-postgres and playwright-core (which drives Debian's chromium for the approvals page).
for dir in tests/integration/node tests/integration/browser; do
  (cd "$dir" && npm ci --no-audit --no-fund --silent)
done

ctest --preset release --output-on-failure -j2 -L unit
ctest --preset release --output-on-failure -L integration

if [[ "${SKIP_ASAN:-0}" != "1" ]]; then
  scripts/build.sh asan
  ASAN_OPTIONS=detect_leaks=1 ctest --preset asan --output-on-failure -j2 -L unit
fi
echo "all tests passed"

#!/usr/bin/env bash
# Installs every Debian package custos needs to build, test and benchmark.
# Idempotent: safe to run on a machine that already has them.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-14 libclang-rt-14-dev lld-14 clang-format
  # libraries
  libasio-dev libssl-dev libpg-query-dev libhyperscan-dev libre2-dev libsqlite3-dev libpq-dev
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libsodium-dev
  libprotobuf-c-dev libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev
  # servers and clients used by tests, demo and benchmarks
  postgresql postgresql-client postgresql-contrib pgbouncer sqlite3 python3 python3-psycopg2 python3-pytest python3-pytest-timeout
  openssl curl procps psmisc hyperfine chromium
)

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Debian postgresql package starts a cluster via systemd/init on some hosts; custos tests
# never use it, they start their own clusters in temporary directories.
# Node.js is only needed for the node-postgres client test; some images ship it outside Debian.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
echo "dependencies ready"

#!/usr/bin/env bash
# Install what the test suite and the benchmarks need beyond .venv and the npm players:
# Debian Chromium (driven by Playwright, never Playwright's own browser download), nginx (the
# reference reverse proxy in the gateway benchmark, the CDN tier and the edges' hit path), wrk (the load generator), and the database
# and cache servers the integration tests run against: PostgreSQL, MariaDB and memcached.
# Idempotent and quiet on success; `make test` and `make bench` run it first. Nothing is started
# here, and nothing is left running: the tests and benchmarks start their own servers on
# loopback (matinee.testing.servers) and stop them.
set -euo pipefail

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -x /usr/bin/wrk ] || missing+=(wrk)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
[ -x /usr/bin/memcached ] || missing+=(memcached)

if [ ${#missing[@]} -gt 0 ]; then
  echo "test-deps: installing ${missing[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed apt-get update -qq >/dev/null
  # policy-rc.d 101: do not let the packages start nginx, PostgreSQL, MariaDB or memcached as
  # system services (the tests run their own instances on their own ports).
  printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee /usr/sbin/policy-rc.d >/dev/null
  sudo_if_needed chmod +x /usr/sbin/policy-rc.d
  trap 'sudo_if_needed rm -f /usr/sbin/policy-rc.d' EXIT
  sudo_if_needed apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash "$(dirname "${BASH_SOURCE[0]}")/cassandra/fetch.sh"  # Cassandra's jars from Maven Central

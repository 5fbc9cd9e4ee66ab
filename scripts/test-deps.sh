#!/usr/bin/env bash
# Install what the test suite and the benchmarks need beyond .venv and the npm players:
# Debian Chromium (driven by Playwright, never Playwright's own browser download), nginx (the
# reference reverse proxy in the gateway benchmark) and wrk (the load generator).
# Idempotent and quiet on success; `make test` and `make bench` run it first. Nothing is started
# here: the tests and benchmarks start their own servers on loopback and stop them.
set -euo pipefail

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -x /usr/bin/wrk ] || missing+=(wrk)

if [ ${#missing[@]} -gt 0 ]; then
  echo "test-deps: installing ${missing[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed apt-get update -qq >/dev/null
  # policy-rc.d 101: do not let the package start nginx as a system service.
  printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee /usr/sbin/policy-rc.d >/dev/null
  sudo_if_needed chmod +x /usr/sbin/policy-rc.d
  sudo_if_needed apt-get install -y -qq "${missing[@]}" >/dev/null
  sudo_if_needed rm -f /usr/sbin/policy-rc.d
fi

#!/usr/bin/env bash
# Install what the test suite needs beyond .venv and the npm players (a Makefile target):
# Debian Chromium, driven by Playwright (never Playwright's own browser download).
# Idempotent and quiet on success; `make test` runs it before pytest.
set -euo pipefail

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ! -x /usr/bin/chromium ]; then
  echo "test-deps: installing Debian chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed apt-get update -qq >/dev/null
  sudo_if_needed apt-get install -y -qq chromium >/dev/null
fi

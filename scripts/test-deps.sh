#!/usr/bin/env bash
# Install what the test suite needs beyond .venv: Debian Chromium (driven by Playwright; never
# Playwright's own browser download) and the npm browser players in web/players.
# Idempotent and quiet on success; `make test` runs it before pytest.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ! -x /usr/bin/chromium ]; then
  echo "test-deps: installing Debian chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed apt-get update -qq >/dev/null
  sudo_if_needed apt-get install -y -qq chromium >/dev/null
fi

players="$repo/web/players"
# npm ci when node_modules is missing or older than the lockfile (it stamps
# node_modules/.package-lock.json on every install).
if [ ! -f "$players/node_modules/.package-lock.json" ] \
  || [ "$players/package-lock.json" -nt "$players/node_modules/.package-lock.json" ]; then
  echo "test-deps: installing the browser players (npm ci in web/players)" >&2
  (cd "$players" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

#!/usr/bin/env bash
# Fetch Apache Cassandra's jars (org.apache.cassandra:cassandra-all and its runtime dependencies)
# from Maven Central into .cache/cassandra/lib, where matinee.testing.servers.cassandra starts a
# single test node from them. Idempotent: a stamp file records a complete fetch of the version
# pinned in pom.xml. Installs a Java runtime and Maven from Debian first if they are missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lib="${MATINEE_CASSANDRA_LIB:-$root/.cache/cassandra/lib}"
version="$(sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$here/pom.xml")"
stamp="$lib/.fetched-$version"

[ -f "$stamp" ] && exit 0

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v java >/dev/null || missing+=(default-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
if [ ${#missing[@]} -gt 0 ]; then
  echo "cassandra: installing ${missing[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed apt-get update -qq >/dev/null
  sudo_if_needed apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "cassandra: fetching cassandra-all $version and its dependencies into $lib" >&2
rm -rf "$lib"
mkdir -p "$lib"
mvn -q -B -f "$here/pom.xml" -Dcassandra.lib="$lib" package
touch "$stamp"

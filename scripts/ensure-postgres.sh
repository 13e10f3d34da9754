#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl) are on this machine; the tests start their own
# throw-away cluster with them. Installs Debian's postgresql package when missing (needs root).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "PostgreSQL server binaries are missing: run 'sudo apt-get install postgresql' (the tests need initdb)." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql > /dev/null
# Debian starts a system cluster on install; the tests do not use it.
service postgresql stop > /dev/null 2>&1 || true

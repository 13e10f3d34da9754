#!/usr/bin/env bash
# Make sure the Debian packages the tests need are on this machine, installing the missing ones (needs root):
#   postgresql        initdb/pg_ctl: the tests start their own throw-away cluster
#   chromium          the browser the web tests drive with Playwright (/usr/bin/chromium)
#   fonts-wqy-microhei  a CJK font, so Chinese pages render (and screenshot) as text, not boxes
set -euo pipefail
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}. Run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
# Debian starts a system cluster on install; the tests do not use it.
service postgresql stop > /dev/null 2>&1 || true

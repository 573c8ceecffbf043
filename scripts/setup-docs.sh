#!/usr/bin/env bash
# What the doc tests (tests/docs/) run besides pkgswitch: the pages pipe
# audit files through jq. (minisign, setpriv, script and unshare come from
# setup.sh or Debian's essential packages.) Idempotent.
set -euo pipefail
command -v jq >/dev/null && exit 0
if [ "$(id -u)" -ne 0 ]; then echo "setup-docs: need root to apt-get install jq" >&2; exit 1; fi
echo "setup-docs: apt-get install jq" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >&2

#!/usr/bin/env bash
# The main job, end to end, in a throwaway Debian root: set up, make a
# signing key, switch coreutils to uutils (apt installs rust-coreutils inside
# the root), show that `ls` is now uutils, show and verify the audit record
# (pkgswitch's verifier and stock minisign), then switch back and check dpkg.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cache=$(bash scripts/make-root.sh)
R=$(mktemp -d /tmp/pkgswitch-demo-XXXXXX)
cleanup() { umount "$R/proc" 2>/dev/null || true; rm -rf "$R"; }
trap cleanup EXIT
cp -a "$cache/." "$R/"
mount -t proc proc "$R/proc"   # the compiled binary and some tools need /proc
P="$PWD/dist/pkgswitch"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step pkgswitch --root "$R" keys generate
"$P" --root "$R" keys generate
step pkgswitch --root "$R" enable coreutils --dry-run
"$P" --root "$R" enable coreutils --dry-run
step pkgswitch --root "$R" enable coreutils --yes
"$P" --root "$R" enable coreutils --yes
step chroot "$R" ls --version
chroot "$R" ls --version | head -1
step pkgswitch --root "$R" status
"$P" --root "$R" status
op=$("$P" --root "$R" audit list --json | node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(d.operations.at(-1).op)')
step pkgswitch --root "$R" audit show "$op"  "(first 12 lines)"
"$P" --root "$R" audit show "$op" | head -12
A="$R/var/lib/pkgswitch/audit"
step minisign -Vm "$A/audit-$op.jsonl" -x "$A/audit-$op.jsonl.sig" -p "$R/etc/pkgswitch/keys/signing.pub"
minisign -Vm "$A/audit-$op.jsonl" -x "$A/audit-$op.jsonl.sig" -p "$R/etc/pkgswitch/keys/signing.pub"
step pkgswitch --root "$R" disable coreutils --yes
"$P" --root "$R" disable coreutils --yes
step chroot "$R" ls --version
chroot "$R" ls --version | head -1
step chroot "$R" dpkg --verify coreutils "(prints nothing when every file is original)"
chroot "$R" dpkg --verify coreutils
step pkgswitch --root "$R" audit verify --all
"$P" --root "$R" audit verify --all
echo; echo "demo finished; the throwaway root $R is removed on exit"

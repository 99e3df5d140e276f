#!/usr/bin/env bash
# Checks scripts/install-packages.sh's decisions without touching the system: fake apt-get, sudo and package
# states on PATH record what would have been run.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
for tool in apt-get sudo; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/calls"\n[ "%s" = sudo ] && exec "$@"\nexit 0\n' "$tool" "$work" "$tool" > "$work/bin/$tool"
  chmod +x "$work/bin/$tool"
done
# A package counts as installed when named in $work/installed.
printf '#!/bin/sh\ngrep -qx "$1" "%s/installed"\n' "$work" > "$work/bin/is-installed"
chmod +x "$work/bin/is-installed"
failures=0
check() { # name, expected calls file content
  local actual
  actual=$(cat "$work/calls" 2>/dev/null || true)
  if [ "$actual" = "$2" ]; then echo "ok: $1"; else echo "FAILED: $1"; echo "  expected: $2"; echo "  actual:   $actual"; failures=$((failures + 1)); fi
  rm -f "$work/calls"
}
run() { PATH="$work/bin:$PATH" INSTALLED_CHECK="$work/bin/is-installed" "$@" scripts/install-packages.sh > "$work/out" 2>&1; }

scripts/install-packages.sh --list > "$work/installed"
run env FAKE_UID=1000
check "everything installed: no apt-get, no sudo" ""

grep -v -e libnghttp2-dev -e socat "$work/installed" > "$work/some" && mv "$work/some" "$work/installed"
run env FAKE_UID=0
check "root, two missing: apt-get without sudo, only the missing ones" "apt-get update -qq
apt-get install -y -qq --no-install-recommends libnghttp2-dev socat"

run env FAKE_UID=1000
check "not root: through sudo" "sudo apt-get update -qq
apt-get update -qq
sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnghttp2-dev socat
apt-get install -y -qq --no-install-recommends libnghttp2-dev socat"

if run env FAKE_UID=1000 SUDO_COMMAND_NAME=no-such-sudo; then status=0; else status=$?; fi
check "not root and no sudo: nothing run" ""
if [ "$status" -ne 1 ] || ! grep -q "apt-get install -y libnghttp2-dev socat" "$work/out"; then
  echo "FAILED: not root and no sudo: exit 1 with the command to run as root"; cat "$work/out"; failures=$((failures + 1))
else
  echo "ok: not root and no sudo: exit 1 saying what to install"
fi

run env FAKE_UID=1000 bash -c 'exec "$0" --dry-run' || true
check "dry run: nothing run" ""
grep -q "would run: sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnghttp2-dev socat" "$work/out" \
  && echo "ok: dry run says what it would run" || { echo "FAILED: dry run output"; cat "$work/out"; failures=$((failures + 1)); }

# --tests adds the test-only packages; without it they are not asked for.
scripts/install-packages.sh --list > "$work/installed"
run env FAKE_UID=0 bash -c 'exec "$0" --tests'
check "--tests: the test-only packages too" "apt-get update -qq
apt-get install -y -qq --no-install-recommends tinyproxy postgresql"
scripts/install-packages.sh --list --tests | grep -qx postgresql && ! scripts/install-packages.sh --list | grep -qx postgresql \
  && echo "ok: --list --tests names postgresql, --list does not" \
  || { echo "FAILED: postgresql belongs to --tests only"; failures=$((failures + 1)); }

[ "$failures" -eq 0 ] && echo "install-packages: all checks passed" || { echo "install-packages: $failures failed"; exit 1; }

#!/usr/bin/env bash
# Installs the Debian packages that building, testing and running the demo need, if any is missing.
# Used by `make run`, `make test` and .ci/run: the one list of the project's system packages.
#
#   scripts/install-packages.sh            install what is missing (apt-get; sudo only when not root)
#   scripts/install-packages.sh --tests    the same, with the packages only the tests need (make test, .ci/run)
#   scripts/install-packages.sh --list     print the package list (--list --tests: with the test-only ones)
#   scripts/install-packages.sh --dry-run  print what would be run, change nothing (combines with --tests)
#
# Nothing happens when every package is installed (no apt-get, no sudo, no network). Swift itself is not a
# Debian package here: install a Swift 6 toolchain (swift.org) first.
set -euo pipefail

# Build: libnghttp2-dev libssl-dev libsqlite3-dev pkg-config. Tests: nghttp2-client (nghttp, h2load),
# nghttp2-server (nghttpd), curl, openssl. Demo examples: socat.
PACKAGES=(libnghttp2-dev libssl-dev libsqlite3-dev pkg-config nghttp2-client nghttp2-server curl socat openssl)
# Only for the tests (--tests), so that `make run` stays light: tinyproxy (the egress proxy's tests) and the
# PostgreSQL 15 server (postgresql: the PostgreSQL registry's tests start a throw-away cluster of their own).
TEST_PACKAGES=(tinyproxy postgresql)

mode=install
list=no
for argument in "$@"; do
  case "$argument" in
    --list) list=yes ;;
    --dry-run) mode=dry-run ;;
    --tests) PACKAGES+=("${TEST_PACKAGES[@]}") ;;
    *) echo "usage: $0 [--tests] [--list|--dry-run]" >&2; exit 2 ;;
  esac
done
if [ "$list" = yes ]; then printf '%s\n' "${PACKAGES[@]}"; exit 0; fi

# INSTALLED_CHECK lets tests replace dpkg's answer (a command that gets the package name).
installed() {
  if [ -n "${INSTALLED_CHECK:-}" ]; then
    $INSTALLED_CHECK "$1"
  else
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
  fi
}

if [ -z "${INSTALLED_CHECK:-}" ] && ! command -v dpkg-query >/dev/null 2>&1; then
  echo "not a Debian-based system (no dpkg-query): make sure these are installed: ${PACKAGES[*]}" >&2
  exit 0
fi

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  [ "$mode" = dry-run ] && echo "all packages installed: nothing to do"
  exit 0
fi

# Root needs no sudo; otherwise sudo where it exists, else a clear error.
uid=${FAKE_UID:-$(id -u)}
if [ "$uid" -eq 0 ]; then
  sudo=()
elif command -v "${SUDO_COMMAND_NAME:-sudo}" >/dev/null 2>&1; then
  sudo=("${SUDO_COMMAND_NAME:-sudo}")
else
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "not root and no sudo: install them as root with: apt-get install -y ${missing[*]}" >&2
  exit 1
fi

if [ "$mode" = dry-run ]; then
  echo "missing: ${missing[*]}"
  echo "would run: ${sudo[*]:+${sudo[*]} }apt-get update -qq"
  echo "would run: ${sudo[*]:+${sudo[*]} }env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing[*]}"
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"

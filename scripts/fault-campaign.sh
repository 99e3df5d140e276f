#!/usr/bin/env bash
# The fault campaign: the real gateway (release build) against apns-mock, one run per fault, each fed a known
# number of notifications through the intake socket, every one with its own apns-id; the mock's record file
# tells how often each was delivered. Prints a markdown table, writes it into docs/reliability.md (between
# its markers) and the figures to docs/reliability.json.
#
#   scripts/fault-campaign.sh [NOTIFICATIONS]      (per fault, default 40000)
#
# Environment: ONLY (comma-separated fault keys, e.g. ONLY=goaway,restart), CONNECTIONS (the gateway's APNs
# connections, default 2), OUTAGE (seconds nothing listens in the connect-failure run, default 2), RECONNECT_MAX (the
# gateway's pool.reconnectMaxBackoffSeconds), SCRATCH (build folder), KEEP=1 (keep logs and record files), NO_DOC=1 (print only;
# a run with ONLY prints only too).
# Needs: swift, python3, openssl, and the apt packages of the README (libnghttp2-dev, libssl-dev, pkg-config).
# Exit status 0 only when every fault passed.
set -euo pipefail
cd "$(dirname "$0")/.."

campaign=
trap '[ -n "$campaign" ] && kill -TERM "$campaign" 2>/dev/null; wait 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --product apns-gateway >&2
swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --product apns-mock >&2
bin=$(swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --show-bin-path)

args=(--bin "$bin" --notifications "${1:-40000}" --connections "${CONNECTIONS:-2}")
[ -n "${ONLY:-}" ] && args+=(--only "$ONLY")
[ -n "${OUTAGE:-}" ] && args+=(--outage "$OUTAGE")
[ -n "${RECONNECT_MAX:-}" ] && args+=(--reconnect-max "$RECONNECT_MAX")
[ -n "${KEEP:-}" ] && args+=(--keep)
# A partial run (ONLY) prints its rows but leaves the recorded table alone.
[ -z "${NO_DOC:-}" ] && [ -z "${ONLY:-}" ] && args+=(--doc docs/reliability.md --json docs/reliability.json)
# In the background so that the trap can stop it (it ends its own children on SIGTERM).
python3 scripts/reliability/campaign.py "${args[@]}" &
campaign=$!
status=0
wait "$campaign" || status=$?
campaign=
exit "$status"

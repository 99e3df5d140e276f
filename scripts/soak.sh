#!/usr/bin/env bash
# The soak: the gateway (release build) under continuous load against apns-mock for SECONDS (default 600),
# with a fault every 30 s in turn (the server killed with SIGKILL and restarted, GOAWAY on every connection,
# 3 s of 503s). Samples the gateway's RSS, open descriptors and results/s every 5 s, compares the first and
# the last minute, and fails when RSS or descriptors grow beyond the limits, a request gets no reply or the
# gateway dies. Writes its figures into docs/reliability.md (between its markers) and docs/reliability.json.
#
#   scripts/soak.sh [SECONDS]
#
# Environment: SENDERS (sender processes, default 3), FAULT_EVERY (seconds, default 30), SAMPLE (seconds,
# default 5), MAX_RSS_GROWTH (MiB, default 32), MAX_FD_GROWTH (default 16), CONNECTIONS (default 2), SCRATCH
# (build folder), KEEP=1 (keep the logs), NO_DOC=1 (print only; runs shorter than 600 s print only too).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-600}" in
  '' | *[!0-9]*) echo "usage: scripts/soak.sh [SECONDS] (a whole number)" >&2; exit 2 ;;
esac

soak=
trap '[ -n "$soak" ] && kill -TERM "$soak" 2>/dev/null; wait 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --product apns-gateway >&2
swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --product apns-mock >&2
bin=$(swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --show-bin-path)

args=(--bin "$bin" --seconds "${1:-600}" --senders "${SENDERS:-3}" --fault-every "${FAULT_EVERY:-30}"
  --sample "${SAMPLE:-5}" --max-rss-growth "${MAX_RSS_GROWTH:-32}" --max-fd-growth "${MAX_FD_GROWTH:-16}"
  --connections "${CONNECTIONS:-2}")
[ -n "${KEEP:-}" ] && args+=(--keep)
# Only a full-length run (600 s or more) replaces the recorded figures.
[ -z "${NO_DOC:-}" ] && [ "${1:-600}" -ge 600 ] && args+=(--doc docs/reliability.md --json docs/reliability.json)
python3 scripts/reliability/soak.py "${args[@]}" &
soak=$!
status=0
wait "$soak" || status=$?
soak=
exit "$status"

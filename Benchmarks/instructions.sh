#!/usr/bin/env bash
# The gateway's CPU per push as instructions (valgrind --tool=callgrind), which the machine's other load does not
# move: the same binary, inputs and environment give the same count. Compares release builds side by side.
#
#   Benchmarks/instructions.sh [NOTIFICATIONS] BIN_DIR [BIN_DIR ...]     (default 20000)
#
# For each BIN_DIR (a folder holding a release `apns-gateway`), it starts nghttpd over TLS, runs the gateway under
# callgrind with collection off, sends 2,000 notifications through the intake socket (warm-up: connections,
# provider token, buffers), switches collection on, sends NOTIFICATIONS more (batches of 500 over 2 connections,
# 210-byte payloads), switches it off and prints one JSON line: instructions in the gateway during the measured
# sends, and per push. Everything the gateway does for those pushes counts: intake, JSON, TLS, HTTP/2, replies.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
total=${1:-20000}
shift
[ $# -gt 0 ] || { echo "usage: $0 [NOTIFICATIONS] BIN_DIR [BIN_DIR ...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }

for bin in "$@"; do
  work=$(mktemp -d)
  token=$(printf 'ab%.0s' $(seq 32))
  mkdir -p "$work/htdocs/3/device"
  : > "$work/htdocs/3/device/$token"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  nghttpd -a 127.0.0.1 -m 1000 -d "$work/htdocs" "$port" certs/localhost.key certs/localhost.pem >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  cp certs/AuthKey_TESTKEY123.p8 "$work/key.p8"
  chmod 600 "$work/key.p8"
  cat > "$work/config.json" <<JSON
{
  "environment": {"host": "127.0.0.1", "port": $port, "serverName": "localhost", "caFile": "$root/certs/test-ca.pem"},
  "apps": [{"name": "bench", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "key.p8", "bundleId": "com.example.app"}],
  "pool": {"connections": 1},
  "intake": {"socketPath": "gw.sock"},
  "logLevel": "warning"
}
JSON
  valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$work/callgrind.out" \
    "$bin/apns-gateway" serve --config "$work/config.json" > "$work/gw.out" 2> "$work/valgrind.err" &
  gateway=$!
  for _ in $(seq 3000); do grep -q ready "$work/gw.out" && break; sleep 0.1; done
  scripts/intake_load.py "$work/gw.sock" "$token" --total 2000 --connections 2 --batch 500 > /dev/null
  callgrind_control --instr=on "$gateway" > /dev/null
  scripts/intake_load.py "$work/gw.sock" "$token" --total "$total" --connections 2 --batch 500 > "$work/load.json"
  callgrind_control --instr=off "$gateway" > /dev/null
  kill -TERM "$gateway"; wait "$gateway" 2>/dev/null || true
  kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
  instructions=$(callgrind_annotate "$work/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
  python3 -c "import json; print(json.dumps({'bin': '$bin', 'notifications': $total, 'instructions': $instructions, 'instructions_per_push': round($instructions / $total)}))"
  rm -rf "$work"
done

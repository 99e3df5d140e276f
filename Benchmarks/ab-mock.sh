#!/usr/bin/env bash
# A same-run A/B of two gateway builds against apns-mock, which answers like APNs (every 200 with an apns-id and
# an apns-unique-id; nghttpd, in ab.sh, sends neither): alternating runs, pushes/s and the daemon's CPU seconds
# per 100,000 notifications, then the medians per build.
#
#   Benchmarks/ab-mock.sh DIR_A DIR_B [PAIRS] [NOTIFICATIONS]     (defaults: 4 pairs of 200000)
#
# DIR_A and DIR_B each hold a built apns-gateway (release); apns-mock is built here (release). Each pair runs A then
# B, the next B then A. The senders: scripts/intake_load.py, 4 connections, requests of 500 × 210 B, after a
# warm-up of 20,000. CONNECTIONS: the gateway's APNs connections (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
swift build -c release --product apns-mock >&2
mock_bin=$(swift build -c release --show-bin-path)
a=$1 b=$2 pairs=${3:-4} total=${4:-200000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cp certs/localhost.key "$work/localhost.key"; chmod 600 "$work/localhost.key"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$mock_bin/apns-mock" --port "$port" --cert certs/localhost.pem --key "$work/localhost.key" \
  --provider-key "TESTKEY123:TEAM123456:certs/AuthKey_TESTKEY123.pub.pem" --bundle-id com.example.app --no-record > "$work/mock.out" 2>&1 &
for _ in $(seq 100); do grep -q listening "$work/mock.out" && break; sleep 0.1; done
cp certs/AuthKey_TESTKEY123.p8 "$work/key.p8"; chmod 600 "$work/key.p8"
cat > "$work/config.json" <<JSON
{
  "environment": {"host": "127.0.0.1", "port": $port, "serverName": "localhost", "caFile": "$root/certs/test-ca.pem"},
  "apps": [{"name": "bench", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "key.p8", "bundleId": "com.example.app"}],
  "pool": {"connections": ${CONNECTIONS:-2}},
  "intake": {"socketPath": "gw.sock"},
  "logLevel": "warning"
}
JSON
token=$(printf 'ab%.0s' $(seq 32))
run() {
  rm -f "$work/gw.sock"
  "$2/apns-gateway" serve --config "$work/config.json" > "$work/gw.out" 2>&1 &
  local gw=$!
  for _ in $(seq 100); do grep -q ready "$work/gw.out" && break; sleep 0.1; done
  scripts/intake_load.py "$work/gw.sock" "$token" --total 20000 --connections 4 --batch 500 > /dev/null
  local before=$(awk '{ print $14 + $15 }' "/proc/$gw/stat")
  local out=$(scripts/intake_load.py "$work/gw.sock" "$token" --total "$total" --connections 4 --batch 500)
  local after=$(awk '{ print $14 + $15 }' "/proc/$gw/stat")
  kill -TERM $gw; wait $gw || true
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); s=($after-$before)/$(getconf CLK_TCK); print(json.dumps({'build': sys.argv[2], 'pushes_per_second': r['pushes_per_second'], 'ok': r['ok'], 'cpu_per_100k': round(s*100000/$total,3)}))" "$out" "$1"
}
for i in $(seq "$pairs"); do
  if (( i % 2 )); then run A "$a"; run B "$b"; else run B "$b"; run A "$a"; fi
done | tee "$work/runs.jsonl"
python3 - "$work/runs.jsonl" <<'PY2'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for build in "AB":
    mine = [r for r in rows if r["build"] == build]
    print(json.dumps({"build": build, "runs": len(mine),
                      "median_pushes_per_second": statistics.median(r["pushes_per_second"] for r in mine),
                      "median_cpu_per_100k": statistics.median(r["cpu_per_100k"] for r in mine)}))
PY2

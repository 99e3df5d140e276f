#!/usr/bin/env bash
# Pushes/s through the intake socket (release build) beside h2load, both against one local nghttpd over TLS.
#
#   scripts/intake-bench.sh [NOTIFICATIONS]     (default 200000)
#
# nghttpd stands in for APNs (200, empty body); the gateway runs with the test key; scripts/intake_load.py
# writes batches over 4 intake connections.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
total=${1:-200000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --product apns-gateway >&2
bin=$(swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --show-bin-path)
token=$(printf 'ab%.0s' $(seq 32))
mkdir -p "$work/htdocs/3/device"
: > "$work/htdocs/3/device/$token"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nghttpd -a 127.0.0.1 -m 1000 -d "$work/htdocs" "$port" certs/localhost.key certs/localhost.pem >/dev/null 2>&1 &
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

cp certs/AuthKey_TESTKEY123.p8 "$work/key.p8"
chmod 600 "$work/key.p8"
cat > "$work/config.json" <<JSON
{
  "environment": {"host": "127.0.0.1", "port": $port, "serverName": "localhost", "caFile": "$root/certs/test-ca.pem"},
  "apps": [{"name": "bench", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "key.p8", "bundleId": "com.example.app"}],
  "pool": {"connections": ${CONNECTIONS:-4}, "maxOutstanding": ${MAX_OUTSTANDING:-20000}},
  "intake": {"socketPath": "gw.sock"},
  "logLevel": "warning"
}
JSON
"$bin/apns-gateway" serve --config "$work/config.json" > "$work/gw.out" &
gateway=$!
for _ in $(seq 100); do grep -q ready "$work/gw.out" && break; sleep 0.1; done

payload=$(python3 -c 'h="{\"aps\":{\"alert\":{\"title\":\"Score update\",\"body\":\""; t="\"},\"sound\":\"default\"}}"; print(h+"x"*(210-len(h)-len(t))+t)')
printf '%s' "$payload" > "$work/payload.json"
h2=$(h2load -n "$total" -c "${CONNECTIONS:-4}" -m 1000 -t 1 -d "$work/payload.json" -H 'apns-push-type: alert' \
  -H 'apns-topic: com.example.app' "https://127.0.0.1:$port/3/device/$token" 2>&1 | sed -nE 's/^finished in .*, ([0-9.]+) req\/s.*/\1/p')
echo "{\"mode\":\"h2load\",\"connections\":${CONNECTIONS:-4},\"requests\":$total,\"pushes_per_second\":$h2}"
scripts/intake_load.py "$work/gw.sock" "$token" --total "$((total / 10))" --connections 4 --batch 500 > /dev/null  # warm-up
scripts/intake_load.py "$work/gw.sock" "$token" --total "$total" --connections 4 --batch 500
# The gateway's memory: peak (VmHWM) over the whole run, and what it holds now (VmRSS), in MiB.
awk '/^VmHWM|^VmRSS/ { printf "%s%s %.1f", (n++ ? ", " : "{\"gateway_"), ($1 == "VmHWM:" ? "peak_rss_mib\":" : "\"rss_after_mib\":"), $2/1024 } END { print "}" }' "/proc/$gateway/status"

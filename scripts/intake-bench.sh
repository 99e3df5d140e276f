#!/usr/bin/env bash
# Pushes/s through the intake socket (release build) beside h2load, both against one local nghttpd over TLS.
#
#   scripts/intake-bench.sh [NOTIFICATIONS]     (default 200000)
#
# Environment: BIN (a folder with a built apns-gateway: skip the release build), CONNECTIONS (APNs connections, default 1), MAX_OUTSTANDING and
# MAX_OUTSTANDING_BYTES (default: the gateway's), PAYLOAD (bytes per notification, default 210), SCRATCH (build
# folder), PERF_DATA (a file: record the gateway's stacks with perf during the measured run), METRICS=1 (serve
# /metrics on a free loopback port and scrape it every SCRAPE_SECONDS, default 1, during the measured run;
# METRICS_OUT=FILE keeps the last scrape), NETWORK=1 (also serve the network intake, TCP + TLS with a bearer token,
# on a free loopback port, and after the Unix-socket run measure the same load through it).
#
# nghttpd stands in for APNs (200, empty body); the gateway runs with the test key; scripts/intake_load.py
# writes batches over 4 intake connections.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
total=${1:-200000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

if [ -n "${BIN:-}" ]; then
  bin=$BIN  # a folder holding an apns-gateway already built (e.g. .build/debug, for a quick look)
else
  swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --product apns-gateway >&2
  bin=$(swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --show-bin-path)
fi
token=$(printf 'ab%.0s' $(seq 32))
mkdir -p "$work/htdocs/3/device"
: > "$work/htdocs/3/device/$token"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nghttpd ${NGHTTPD_ARGS:-} -a 127.0.0.1 -m 1000 -d "$work/htdocs" "$port" certs/localhost.key certs/localhost.pem >/dev/null 2>&1 &
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

metrics_config=""
if [ -n "${METRICS:-}" ]; then
  metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  metrics_config=", \"metrics\": {\"listen\": \"127.0.0.1:$metrics_port\"}"
fi

network_config=""
if [ -n "${NETWORK:-}" ]; then
  intake_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  python3 -c 'import secrets; print(secrets.token_hex(32))' > "$work/intake-token"
  "$bin/apns-gateway" hash-token --name bench --scopes send,stats < "$work/intake-token" > "$work/tokens.txt"
  network_config=", \"listen\": \"127.0.0.1:$intake_port\", \"tls\": {\"certFile\": \"$root/certs/localhost.pem\", \"keyFile\": \"$root/certs/localhost.key\"}, \"auth\": {\"tokensFile\": \"tokens.txt\"}"
fi

cp certs/AuthKey_TESTKEY123.p8 "$work/key.p8"
chmod 600 "$work/key.p8"
cat > "$work/config.json" <<JSON
{
  "environment": {"host": "127.0.0.1", "port": $port, "serverName": "localhost", "caFile": "$root/certs/test-ca.pem"},
  "apps": [{"name": "bench", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "key.p8", "bundleId": "com.example.app"}],
  "pool": {"connections": ${CONNECTIONS:-1}${MAX_OUTSTANDING:+, \"maxOutstanding\": $MAX_OUTSTANDING}${MAX_OUTSTANDING_BYTES:+, \"maxOutstandingBytes\": $MAX_OUTSTANDING_BYTES}},
  "intake": {"socketPath": "gw.sock"$network_config},
  "logLevel": "warning"$metrics_config
}
JSON
${WRAP:-} "$bin/apns-gateway" serve --config "$work/config.json" > "$work/gw.out" &
gateway=$!
for _ in $(seq 100); do grep -q ready "$work/gw.out" && break; sleep 0.1; done

payload_size=${PAYLOAD:-210}
payload=$(python3 -c 'import sys; h="{\"aps\":{\"alert\":{\"title\":\"Score update\",\"body\":\""; t="\"},\"sound\":\"default\"}}"; print(h+"x"*(int(sys.argv[1])-len(h)-len(t))+t)' "$payload_size")
printf '%s' "$payload" > "$work/payload.json"
# h2load sends what the gateway sends: an authorization header of a provider token's size (nghttp2 never indexes
# authorization, so its ~200 bytes go with every request), the push type and the topic.
jwt="bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IlRFU1RLRVkxMjMifQ.eyJpc3MiOiJURUFNMTIzNDU2IiwiaWF0IjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2ln"
h2=$(h2load -n "$total" -c "${CONNECTIONS:-1}" -m 1000 -t 1 -d "$work/payload.json" -H "authorization: $jwt" -H 'apns-push-type: alert' \
  -H 'apns-topic: com.example.app' "https://127.0.0.1:$port/3/device/$token" 2>&1 | sed -nE 's/^finished in .*, ([0-9.]+) req\/s.*/\1/p')
echo "{\"mode\":\"h2load\",\"connections\":${CONNECTIONS:-1},\"requests\":$total,\"pushes_per_second\":$h2}"
rss_ready=$(awk '/^VmRSS/ { print $2 }' "/proc/$gateway/status")
scripts/intake_load.py "$work/gw.sock" "$token" --total "$((total / 10))" --connections 4 --batch 500 --payload "$payload_size" > /dev/null  # warm-up
if [ -n "${PERF_DATA:-}" ]; then
  # Samples the gateway's stacks during the measured run: inspect with `perf report -i "$PERF_DATA"`.
  perf record -F 1999 -g -o "$PERF_DATA" -p "$gateway" 2>/dev/null &
  profiler=$!
fi
# The gateway's resident memory, sampled every 100 ms during the measured run.
( while kill -0 "$gateway" 2>/dev/null; do
    awk '/^VmRSS/ { print $2 }' "/proc/$gateway/status"; sleep 0.1
  done ) > "$work/rss.samples" &
sampler=$!
if [ -n "${METRICS:-}" ]; then
  # A scraper far more eager than Prometheus's usual 15 s, so that the cost of rendering shows.
  ( while kill -0 "$gateway" 2>/dev/null; do
      curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$work/metrics.txt" || true; sleep "${SCRAPE_SECONDS:-1}"
    done ) &
  scraper=$!
fi
cpu_before=$(awk '{ print $14 + $15 }' "/proc/$gateway/stat")
faults_before=$(awk '{ print $10 }' "/proc/$gateway/stat")
${LOADWRAP:-} scripts/intake_load.py "$work/gw.sock" "$token" --total "$total" --connections 4 --batch 500 --payload "$payload_size"
cpu_after=$(awk '{ print $14 + $15 }' "/proc/$gateway/stat")
faults_after=$(awk '{ print $10 }' "/proc/$gateway/stat")
# The gateway's own CPU time (user + system) over the measured run: less sensitive to other load than pushes/s;
# and its minor page faults (fresh pages touched: the cost of memory mapped and unmapped per buffer).
python3 -c "import json,sys; s=($cpu_after-$cpu_before)/$(getconf CLK_TCK); print(json.dumps({'gateway_cpu_seconds': round(s,2), 'gateway_cpu_seconds_per_100k': round(s*100000/$total,3), 'gateway_minor_faults_per_100k': round(($faults_after-$faults_before)*100000/$total)}))"
if [ -n "${NETWORK:-}" ]; then
  # The same load through the network intake: TCP + TLS on loopback, authenticated with a bearer token.
  tls_args=(--tls --ca certs/test-ca.pem --auth-token-file "$work/intake-token")
  scripts/intake_load.py "127.0.0.1:$intake_port" "$token" "${tls_args[@]}" --total "$((total / 10))" --connections 4 --batch 500 > /dev/null
  cpu_before=$(awk '{ print $14 + $15 }' "/proc/$gateway/stat")
  scripts/intake_load.py "127.0.0.1:$intake_port" "$token" "${tls_args[@]}" --total "$total" --connections 4 --batch 500
  cpu_after=$(awk '{ print $14 + $15 }' "/proc/$gateway/stat")
  python3 -c "import json,sys; s=($cpu_after-$cpu_before)/$(getconf CLK_TCK); print(json.dumps({'mode': 'gateway-tls', 'gateway_cpu_seconds': round(s,2), 'gateway_cpu_seconds_per_100k': round(s*100000/$total,3)}))"
fi
kill "$sampler" 2>/dev/null || true
if [ -n "${METRICS:-}" ]; then
  kill "$scraper" 2>/dev/null || true
  curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$work/metrics.txt"
  [ -n "${METRICS_OUT:-}" ] && cp "$work/metrics.txt" "$METRICS_OUT"
  python3 - "$work/metrics.txt" <<'PY'
import json, sys
values = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    series, value = line.rsplit(" ", 1)
    values[series] = float(value)
def get(series):
    return int(values.get(series, 0))
print(json.dumps({"metrics_accepted": get('apns_gateway_notifications_accepted_total{app="bench"}'),
                  "metrics_succeeded": get('apns_gateway_notifications_succeeded_total{app="bench"}'),
                  "metrics_latency_count": get('apns_gateway_apns_latency_seconds_count{app="bench"}'),
                  "metrics_series": len(values)}))
PY
fi
[ -n "${RSS_SAMPLES:-}" ] && cp "$work/rss.samples" "$RSS_SAMPLES"
if [ -n "${PERF_DATA:-}" ]; then kill -INT "$profiler"; wait "$profiler" || true; fi
# The gateway's memory: peak (VmHWM) over the whole run, what it holds now (VmRSS), and the samples of the
# measured run's second half (its lowest, highest and the change from its start to its end), in MiB.
# start: when the measured run begins (after the warm-up); end: the last sample of the measured run.
python3 - "$work/rss.samples" "/proc/$gateway/status" "$rss_ready" <<'PY'
import json, sys
samples = [int(line) / 1024 for line in open(sys.argv[1]) if line.strip()]
status = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in open(sys.argv[2]) if line.startswith(("Vm", "Rss"))}
half = samples[len(samples) // 2:] or [0]
print(json.dumps({"rss_ready_mib": round(int(sys.argv[3]) / 1024, 1), "rss_start_mib": round(samples[0], 1) if samples else 0,
                  "rss_end_mib": round(samples[-1], 1) if samples else 0,
                  "gateway_peak_rss_mib": round(status["VmHWM"], 1), "rss_after_mib": round(status["VmRSS"], 1),
                  "heap_and_stacks_mib": round(status["RssAnon"], 1), "code_and_files_mib": round(status["RssFile"], 1),
                  "second_half_min_mib": round(min(half), 1), "second_half_max_mib": round(max(half), 1),
                  "second_half_change_mib": round(half[-1] - half[0], 1), "samples": len(samples)}))
PY

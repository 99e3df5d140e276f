#!/usr/bin/env bash
# Pushes/s across an emulated network round trip, beside h2load and the Little's-law limit, in one run.
#
#   Benchmarks/latency.sh [RTT_MS...]        (default: 20 80)
#
# Environment: RUN_SECONDS (measured seconds per run, default 4), REPEATS (runs per figure, default 3; the
# median is reported), CONNECTIONS (default 4), STREAMS (the server's SETTINGS_MAX_CONCURRENT_STREAMS, nghttpd
# -m, default 100), PAYLOADS (default "210 4096"), NGHTTPD_WINDOW_BITS (nghttpd -W and -w: the server's receive
# windows as 2^bits - 1; default nghttpd's 16, 64 KiB - 1, as APNs announces), MODES (default "h2load engine
# gateway").
#
# nghttpd stands in for APNs (200, empty body, over TLS), behind `latency-proxy`, which holds every byte for
# half the round trip each way: h2load, the engine (apns-bench --mode engine) and the gateway (the daemon fed
# through its Unix socket by scripts/intake_load.py) all talk to the same server across the same round trip.
#
# The limit each configuration is measured against (Little's law):
#   streams: connections × streams ÷ RTT                      (every stream busy, one request per round trip)
#   window:  connections × server connection window ÷ RTT ÷ payload bytes   (the server's flow-control window
#            lets a connection have at most that many request-body bytes in flight per round trip)
#   target = the lower of the two.
# Results: Benchmarks/results/latency.json and latency.md (RESULTS_NAME: another name than "latency").
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
rtts=("$@")
[ ${#rtts[@]} -gt 0 ] || rtts=(20 80)
run_seconds=${RUN_SECONDS:-4}
repeats=${REPEATS:-3}
connections=${CONNECTIONS:-4}
streams=${STREAMS:-100}
payloads=(${PAYLOADS:-210 4096})
modes=(${MODES:-h2load engine gateway})
window_bits=${NGHTTPD_WINDOW_BITS:-16}
window=$(( (1 << window_bits) - 1 ))
results=results
mkdir -p "$results"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

swift build -c release --product apns-bench >&2
bench=$(swift build -c release --show-bin-path)/apns-bench
swift build -c release --package-path "$root" --product apns-gateway >&2
swift build -c release --package-path "$root" --product latency-proxy >&2
bin=$(swift build -c release --package-path "$root" --show-bin-path)
cp "$root/certs/AuthKey_TESTKEY123.p8" "$work/key.p8"
chmod 600 "$work/key.p8"

mkdir -p "$work/htdocs/3/device"
token=$(printf 'ab%.0s' $(seq 32))
: > "$work/htdocs/3/device/$token"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
nghttpd -a 127.0.0.1 -m "$streams" -W "$window_bits" -w "$window_bits" -d "$work/htdocs" "$port" \
  "$root/certs/localhost.key" "$root/certs/localhost.pem" >/dev/null 2>&1 &
nghttpd_pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

jwt="bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IlRFU1RLRVkxMjMifQ.eyJpc3MiOiJURUFNMTIzNDU2IiwiaWF0IjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2ln"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$work/all.jsonl"

payload_file() {  # a JSON payload of exactly $1 bytes, the shape apns-bench sends
  python3 - "$1" > "$work/payload-$1.json" <<'PY'
import sys
size=int(sys.argv[1]); head='{"aps":{"alert":{"title":"Score update","body":"'; tail='"},"sound":"default"}}'
sys.stdout.write(head + "x"*max(0,size-len(head)-len(tail)) + tail)
PY
}

run_h2load() {  # proxy_port payload
  local out
  out=$(h2load -D "$run_seconds" --warm-up-time=1 -c "$connections" -m "$streams" -t 1 -d "$work/payload-$2.json" \
    -H "authorization: $jwt" -H 'apns-push-type: alert' -H 'apns-topic: com.example.app' \
    -H 'apns-priority: 10' -H 'apns-expiration: 0' "https://127.0.0.1:$1/3/device/$token" 2>&1)
  sed -nE 's/^finished in .*, ([0-9.]+) req\/s.*/\1/p' <<<"$out"
}

run_engine() {  # proxy_port payload requests warmup
  "$bench" --mode engine --port "$1" --ca "$root/certs/test-ca.pem" --key "$root/certs/AuthKey_TESTKEY123.p8" \
    --connections "$connections" --requests "$3" --warmup "$4" --payload "$2" --window $((4 * connections * streams)) \
    | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["pushes_per_second"])'
}

run_gateway() {  # proxy_port payload requests warmup
  cat > "$work/gateway.json" <<JSON
{
  "environment": {"host": "127.0.0.1", "port": $1, "serverName": "localhost", "caFile": "$root/certs/test-ca.pem"},
  "apps": [{"name": "bench", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "key.p8", "bundleId": "com.example.app"}],
  "pool": {"connections": $connections, "maxConcurrentStreams": $streams},
  "intake": {"socketPath": "gw.sock"},
  "logLevel": "warning"
}
JSON
  rm -f "$work/gw.sock"
  "$bin/apns-gateway" serve --config "$work/gateway.json" > "$work/gateway.out" &
  local pid=$!
  for _ in $(seq 100); do grep -q ready "$work/gateway.out" && break; sleep 0.1; done
  "$root/scripts/intake_load.py" "$work/gw.sock" "$token" --total "$4" --payload "$2" --connections 4 > /dev/null
  local out
  out=$("$root/scripts/intake_load.py" "$work/gw.sock" "$token" --total "$3" --payload "$2" --connections 4)
  kill -TERM "$pid"
  wait "$pid" || true
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["ok"]==r["notifications"], r; print(r["pushes_per_second"])' "$out"
}

for payload in "${payloads[@]}"; do payload_file "$payload"; done
for rtt in "${rtts[@]}"; do
  "$bin/latency-proxy" --to "127.0.0.1:$port" --rtt-ms "$rtt" > "$work/proxy.out" &
  proxy_pid=$!
  for _ in $(seq 100); do grep -q listening "$work/proxy.out" && break; sleep 0.1; done
  proxy_port=$(sed -nE 's/.*:([0-9]+)$/\1/p' "$work/proxy.out")
  for payload in "${payloads[@]}"; do
    limits=$(python3 -c "
c, s, w, rtt, p = $connections, $streams, $window, $rtt / 1000, $payload
streams = c * s / rtt; window = c * w / rtt / p
print(round(streams), round(window), round(min(streams, window)))")
    read -r limit_streams limit_window target <<<"$limits"
    # Enough requests for about RUN_SECONDS at the target, and a warm-up of about one second.
    requests=$(( target * run_seconds > 2000 ? target * run_seconds : 2000 ))
    warmup=$(( target > 1000 ? target : 1000 ))
    for repeat in $(seq "$repeats"); do
      for mode in "${modes[@]}"; do
        rate=$(case $mode in
          h2load) run_h2load "$proxy_port" "$payload" ;;
          engine) run_engine "$proxy_port" "$payload" "$requests" "$warmup" ;;
          gateway) run_gateway "$proxy_port" "$payload" "$requests" "$warmup" ;;
        esac)
        line=$(printf '{"rtt_ms":%s,"payload":%d,"mode":"%s","repeat":%d,"connections":%d,"streams":%d,"window":%d,"limit_streams":%s,"limit_window":%s,"target":%s,"pushes_per_second":%s,"load":"%s"}' \
          "$rtt" "$payload" "$mode" "$repeat" "$connections" "$streams" "$window" "$limit_streams" "$limit_window" "$target" "$rate" "$(cut -d' ' -f1 /proc/loadavg)")
        echo "$line" | tee -a "$work/all.jsonl" >&2
      done
    done
  done
  kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true
done

LOAD_BEFORE="$load_before" python3 - "$work/all.jsonl" "$results" <<'PY'
import json, sys, os, platform, datetime, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "load_before": os.environ.get("LOAD_BEFORE", ""), "load_after": " ".join("%.2f" % x for x in os.getloadavg())}
groups = {}
for r in rows:
    groups.setdefault((r["rtt_ms"], r["payload"], r["mode"]), []).append(r)
summary = []
for (rtt, payload, mode), runs in groups.items():
    rates = [r["pushes_per_second"] for r in runs]
    first = runs[0]
    summary.append({"rtt_ms": rtt, "payload": payload, "mode": mode, "connections": first["connections"],
                    "streams": first["streams"], "window": first["window"], "limit_streams": first["limit_streams"],
                    "limit_window": first["limit_window"], "target": first["target"],
                    "pushes_per_second": round(statistics.median(rates)), "runs": [round(x) for x in rates]})
h2 = {(s["rtt_ms"], s["payload"]): s["pushes_per_second"] for s in summary if s["mode"] == "h2load"}
for s in summary:
    s["ratio_to_target"] = round(s["pushes_per_second"] / s["target"], 3)
    if (s["rtt_ms"], s["payload"]) in h2:
        s["ratio_to_h2load"] = round(s["pushes_per_second"] / h2[(s["rtt_ms"], s["payload"])], 3)
json.dump({"machine": machine, "summary": summary, "runs": rows}, open(f"{sys.argv[2]}/{os.environ.get('RESULTS_NAME', 'latency')}.json", "w"), indent=1)
lines = ["| RTT ms | payload B | mode | pushes/s (median) | runs | streams limit | window limit | target | × target | × h2load |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for s in summary:
    lines.append(f'| {s["rtt_ms"]} | {s["payload"]} | {s["mode"]} | {s["pushes_per_second"]} | {", ".join(map(str, s["runs"]))} | '
                 f'{s["limit_streams"]} | {s["limit_window"]} | {s["target"]} | {s["ratio_to_target"]:.2f} | {s.get("ratio_to_h2load", 0):.2f} |')
first = summary[0]
head = (f'Machine: {machine["cpus"]} CPUs, {machine["platform"]}, {machine["date"]}, load average before {machine["load_before"]}, '
        f'after {machine["load_after"]}. {first["connections"]} connections, server limit {first["streams"]} streams per connection, '
        f'server connection window {first["window"]} B; median of {len(groups[next(iter(groups))])} runs.\n\n')
open(f"{sys.argv[2]}/{os.environ.get('RESULTS_NAME', 'latency')}.md", "w").write(head + "\n".join(lines) + "\n")
print("\n".join(lines))
PY

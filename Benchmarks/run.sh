#!/usr/bin/env bash
# End-to-end throughput beside h2load, in one run, against one local nghttpd over TLS.
#
#   Benchmarks/run.sh [REQUESTS]        (default 200000 per configuration)
#
# For 1 and 4 connections and payloads of about 210 B and 4 KiB it runs h2load (nghttp2's C client, the
# ceiling), the engine (HTTP2ConnectionPool), the APNs client (APNsClient) and the whole gateway (the
# apns-gateway daemon, fed through its Unix socket by SENDERS sender processes, default 4) with the same
# request shape, REPEATS rounds (default 3, alternating the order of the configurations), and writes
# Benchmarks/results/latest.json (medians and every run), latest.md and latest.svg (a chart of the median
# pushes/s by configuration). Each figure is set against the h2load run just before it: pushes/s and CPU seconds
# per 100,000 pushes (h2load's own CPU time, measured with /usr/bin/time).
#
# Environment: BIN (a folder with a built apns-gateway: skip its build), REPEATS, STREAMS (nghttpd -m, default
# 100), SENDERS (default 4), MODES (default "engine client gateway";
# h2load always runs), MAX_OUTSTANDING_BYTES (the gateway's pool.maxOutstandingBytes; default: its own), and
# the gateway's own variables (APNS_GATEWAY_MALLOC_TUNING=off ...) pass through to it.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
requests=${1:-200000}
streams=${STREAMS:-100}
results=results
mkdir -p "$results"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

if [[ " ${MODES:-engine} " == *" engine "* || " ${MODES:-client} " == *" client "* ]]; then
  swift build -c release --product apns-bench >&2
  bench=$(swift build -c release --show-bin-path)/apns-bench
fi
if [ -n "${BIN:-}" ]; then
  gateway_bin=$BIN/apns-gateway  # a folder holding an apns-gateway already built
else
  swift build -c release --package-path "$root" --product apns-gateway >&2
  gateway_bin=$(swift build -c release --package-path "$root" --show-bin-path)/apns-gateway
fi
cp "$root/certs/AuthKey_TESTKEY123.p8" "$work/key.p8"
chmod 600 "$work/key.p8"

# APNs answers 200 with an empty body: serve an empty file at the request path.
mkdir -p "$work/htdocs/3/device"
token=$(printf 'ab%.0s' $(seq 32))
: > "$work/htdocs/3/device/$token"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nghttpd -a 127.0.0.1 -m "$streams" -d "$work/htdocs" "$port" "$root/certs/localhost.key" "$root/certs/localhost.pem" >/dev/null 2>&1 &
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

jwt="bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IlRFU1RLRVkxMjMifQ.eyJpc3MiOiJURUFNMTIzNDU2IiwiaWF0IjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2ln"
: > "$work/all.jsonl"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)  # other jobs on the machine skew every figure: recorded with the results

payload_file() {  # a JSON payload of exactly $1 bytes, the same shape apns-bench sends
  python3 - "$1" > "$work/payload-$1.json" <<'PY'
import sys
size=int(sys.argv[1]); head='{"aps":{"alert":{"title":"Score update","body":"'; tail='"},"sound":"default"}}'
sys.stdout.write(head + "x"*max(0,size-len(head)-len(tail)) + tail)
PY
}

run_h2load() {  # connections payload
  local out
  out=$(/usr/bin/time -f 'h2load_cpu %U %S' h2load -n "$requests" -c "$1" -m "$streams" -t 1 -d "$work/payload-$2.json" \
    -H "authorization: $jwt" -H 'apns-push-type: alert' -H 'apns-topic: com.example.app' \
    -H 'apns-priority: 10' -H 'apns-expiration: 0' "https://127.0.0.1:$port/3/device/$token" 2>&1)
  local rate secs
  rate=$(sed -nE 's/^finished in ([0-9.]+)(m?s), ([0-9.]+) req\/s.*/\3/p' <<<"$out")
  secs=$(sed -nE 's/^finished in ([0-9.]+)(m?s),.*/\1 \2/p' <<<"$out" | awk '{ print ($2=="ms") ? $1/1000 : $1 }')
  local cpu  # h2load's own CPU time (user + system), per 100,000 requests: the yardstick for the gateway's
  cpu=$(awk -v n="$requests" '/^h2load_cpu / { printf "%.3f", ($2 + $3) / n * 100000 }' <<<"$out")
  printf '{"mode":"h2load","connections":%d,"payload":%d,"requests":%d,"seconds":%s,"pushes_per_second":%s,"cpu_seconds_per_100k":%s}\n' \
    "$1" "$2" "$requests" "$secs" "$rate" "$cpu"
}

cpu_ticks() {  # user + system clock ticks of process $1
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

run_gateway() {  # connections payload: the daemon, its socket fed by sender processes
  cat > "$work/gateway.json" <<JSON
{
  "environment": {"host": "127.0.0.1", "port": $port, "serverName": "localhost", "caFile": "$root/certs/test-ca.pem"},
  "apps": [{"name": "bench", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "key.p8", "bundleId": "com.example.app"}],
  "pool": {"connections": $1${MAX_OUTSTANDING_BYTES:+, \"maxOutstandingBytes\": $MAX_OUTSTANDING_BYTES}},
  "intake": {"socketPath": "gw.sock"},
  "logLevel": "warning"
}
JSON
  rm -f "$work/gw.sock"
  "$gateway_bin" serve --config "$work/gateway.json" > "$work/gateway.out" &
  local pid=$!
  for _ in $(seq 100); do grep -q ready "$work/gateway.out" && break; sleep 0.1; done
  "$root/scripts/intake_load.py" "$work/gw.sock" "$token" --total "$((requests / 10))" --payload "$2" \
    --connections "${SENDERS:-4}" > /dev/null  # warm-up: connections, token, allocator
  local ticks_before ticks_after out
  ticks_before=$(cpu_ticks "$pid")
  out=$("$root/scripts/intake_load.py" "$work/gw.sock" "$token" --total "$requests" --payload "$2" --connections "${SENDERS:-4}")
  ticks_after=$(cpu_ticks "$pid")
  local peak
  peak=$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  CONNECTIONS="$1" TICKS=$((ticks_after - ticks_before)) HZ=$(getconf CLK_TCK) PEAK="$peak" python3 -c '
import json, os, sys
r = json.loads(sys.argv[1])
print(json.dumps({"mode": "gateway", "connections": int(os.environ["CONNECTIONS"]), "payload": r["payload"],
  "requests": r["notifications"], "succeeded": r["ok"], "seconds": r["seconds"],
  "pushes_per_second": r["pushes_per_second"], "request_p50_ms": r["request_p50_ms"],
  "request_p99_ms": r["request_p99_ms"], "request_p999_ms": r["request_p999_ms"],
  "cpu_seconds_per_100k": round(int(os.environ["TICKS"]) / int(os.environ["HZ"]) / r["notifications"] * 100000, 3),
  "peak_rss_mib": float(os.environ["PEAK"])}))' "$out"
}

# REPEATS rounds (default 3); in each, every configuration runs h2load and then each mode, so that each mode's
# figure is paired with an h2load run made just before it. Rounds alternate the order of the configurations.
configurations=("210 1" "210 4" "4096 1" "4096 4")
for payload in 210 4096; do payload_file "$payload"; done
for round in $(seq "${REPEATS:-3}"); do
  order=("${configurations[@]}")
  if (( round % 2 == 0 )); then order=("${configurations[3]}" "${configurations[2]}" "${configurations[1]}" "${configurations[0]}"); fi
  for configuration in "${order[@]}"; do
    read -r payload connections <<<"$configuration"
    { run_h2load "$connections" "$payload"
      for mode in ${MODES:-engine client gateway}; do
        [ "$mode" = gateway ] && continue
        "$bench" --mode "$mode" --port "$port" --ca "$root/certs/test-ca.pem" --key "$root/certs/AuthKey_TESTKEY123.p8" \
          --connections "$connections" --requests "$requests" --payload "$payload" --window 4000
      done
      if [[ " ${MODES:-gateway} " == *" gateway "* ]]; then run_gateway "$connections" "$payload"; fi
    } | ROUND=$round python3 -c 'import json, os, sys
for line in sys.stdin:
    r = json.loads(line); r["round"] = int(os.environ["ROUND"]); print(json.dumps(r), flush=True)' \
      | tee -a "$work/all.jsonl" >&2
  done
done

LOAD_BEFORE="$load_before" python3 - "$work/all.jsonl" "$results" <<'PY'
import json, sys, platform, os, datetime, statistics
runs=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# Each run's ratios against the h2load run of the same round and configuration; then the median per mode.
h2={(r["round"],r["connections"],r["payload"]):r for r in runs if r["mode"]=="h2load"}
for r in runs:
    ref=h2[(r["round"],r["connections"],r["payload"])]
    r["ratio_to_h2load"]=round(r["pushes_per_second"]/ref["pushes_per_second"],3)
    if "cpu_seconds_per_100k" in r and ref.get("cpu_seconds_per_100k"):
        r["cpu_ratio_to_h2load"]=round(r["cpu_seconds_per_100k"]/ref["cpu_seconds_per_100k"],3)
keys=sorted({(r["payload"],r["connections"],r["mode"]) for r in runs},
            key=lambda k:(k[0],k[1],["h2load","engine","client","gateway"].index(k[2])))
rows=[]
for payload,connections,mode in keys:
    mine=[r for r in runs if (r["payload"],r["connections"],r["mode"])==(payload,connections,mode)]
    row={"mode":mode,"connections":connections,"payload":payload,"runs":len(mine),
         "pushes_per_second_runs":[round(r["pushes_per_second"]) for r in mine]}
    for k in ("pushes_per_second","ratio_to_h2load","cpu_seconds_per_100k","cpu_ratio_to_h2load","p50_ms","p99_ms","p999_ms",
              "request_p50_ms","request_p99_ms","request_p999_ms","peak_rss_mib"):
        values=[r[k] for r in mine if k in r]
        if values: row[k]=max(values) if k=="peak_rss_mib" else round(statistics.median(values),3)
    rows.append(row)
machine={"cpus":os.cpu_count(),"platform":platform.platform(),"date":datetime.datetime.utcnow().isoformat(timespec="seconds")+"Z","load_before":os.environ.get("LOAD_BEFORE",""),"load_after":" ".join("%.2f"%x for x in os.getloadavg())}
json.dump({"machine":machine,"results":rows,"runs":runs},open(f"{sys.argv[2]}/latest.json","w"),indent=1)
lines=["| mode | conns | payload B | pushes/s | × h2load | p50 ms | p99 ms | p99.9 ms | CPU s/100k | CPU × h2load | peak RSS MiB |","|---|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    # Engine and client: the latency of each push. Gateway: of each request (a batch of 500), write to reply.
    g=lambda k: ("%.3f"%r[k]) if k in r else (("%.1f*"%r["request_"+k]) if "request_"+k in r else "–")
    c=("%.2f"%r["cpu_ratio_to_h2load"]) if "cpu_ratio_to_h2load" in r else ("1.00" if r["mode"]=="h2load" else "–")
    lines.append(f'| {r["mode"]} | {r["connections"]} | {r["payload"]} | {r["pushes_per_second"]:.0f} | {r["ratio_to_h2load"]:.2f} | {g("p50_ms")} | {g("p99_ms")} | {g("p999_ms")} | {g("cpu_seconds_per_100k")} | {c} | {r.get("peak_rss_mib","–")} |')
lines.append("")
lines.append(f'Medians of {max(r["runs"] for r in rows)} rounds; × h2load is the median of each run against the h2load run just before it; peak RSS is the highest of the rounds.')
lines.append("CPU s/100k: the process's user + system time per 100,000 pushes (h2load: its own; the gateway: the daemon's, not its senders').")
lines.append("\\* gateway latencies are per request of 500 notifications (written to the socket → reply read), not per push.")
open(f"{sys.argv[2]}/latest.md","w").write(f'Machine: {machine["cpus"]} CPUs, {machine["platform"]}, {machine["date"]}, load average before {machine["load_before"]}, after {machine["load_after"]}\n\n'+"\n".join(lines)+"\n")
print("\n".join(lines))

# A bar chart of pushes/s by configuration, as plain SVG (no plotting library needed).
configs=sorted({(r["connections"],r["payload"]) for r in rows})
modes=["h2load","engine","client","gateway"]; colors={"h2load":"#888888","engine":"#2b6cb0","client":"#38a169","gateway":"#c05621"}
top=max(r["pushes_per_second"] for r in rows); bar=22; gap=18; left=150; width=520
height=40+len(configs)*(len(modes)*bar+gap)
svg=[f'<svg xmlns="http://www.w3.org/2000/svg" width="{left+width+120}" height="{height}" font-family="sans-serif" font-size="12">',
     f'<text x="10" y="20" font-size="14">pushes/s against one nghttpd over TLS, medians ({machine["date"]})</text>']
y=35
for c in configs:
    svg.append(f'<text x="10" y="{y+bar*1.8:.0f}">{c[0]} conn × {c[1]} B</text>')
    for m in modes:
        r=next((r for r in rows if r["mode"]==m and (r["connections"],r["payload"])==c),None)
        if r is None: continue
        w=width*r["pushes_per_second"]/top
        svg.append(f'<rect x="{left}" y="{y}" width="{w:.0f}" height="{bar-4}" fill="{colors[m]}"/>')
        svg.append(f'<text x="{left+w+6:.0f}" y="{y+bar-8}">{m} {r["pushes_per_second"]/1000:.0f}k ({r["ratio_to_h2load"]:.2f}×)</text>')
        y+=bar
    y+=gap
svg.append("</svg>")
open(f"{sys.argv[2]}/latest.svg","w").write("\n".join(svg)+"\n")
PY

#!/usr/bin/env bash
# The latency the gateway itself adds, per notification, at half its maximum rate.
#
#   Benchmarks/added-latency.sh
#
# One gateway (release build, its default 2 APNs connections and maxOutstanding) in front of one local nghttpd over
# TLS. Each run (RUNS, default 3): first the maximum rate through the Unix socket (scripts/intake_load.py, 4
# sender connections, requests of 500 notifications of 210 B), then DURATION seconds (default 10) at half that rate
# (scripts/paced_load.py: the same request shape, written on a fixed schedule), with /metrics scraped just
# before and just after the paced part. The difference of the two scrapes gives the paced part's histograms of
# apns_gateway_added_inbound_seconds (read of the request line -> first write to APNs),
# apns_gateway_added_outbound_seconds (answer completing the batch -> reply written), apns_gateway_added_seconds
# (their sum per notification) and apns_gateway_batch_wait_seconds (a reply's wait for its slowest item), whose
# p50 / p99 / p99.9 are printed with the bucket each lies in (the precision), and the share at or below 2 ms.
#
# Writes Benchmarks/results/added-latency.json and added-latency.md. Environment: BIN (a folder with a built
# apns-gateway: skip the release build), RUNS, DURATION, BATCH (notifications per paced request, default 500),
# CONNECTIONS (APNs connections, default 2: the gateway's default), PACED_CONNECTIONS (default 4), PERF_DATA (a file: record the
# gateway's stacks with perf during the last paced part), OUT (results folder, default Benchmarks/results),
# NGHTTPD_ARGS (more nghttpd options, e.g. --connection-window-bits=20 for a 1 MiB connection window instead of
# nghttpd's 64 KiB), PEERS_NICE (a niceness for nghttpd and the senders, default 0: with 10 or more the scheduler
# runs the gateway's threads first when all want a CPU, which is how the gateway runs when APNs and its senders
# are on other machines; the cost table says how long the gateway waited for a CPU either way).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${RUNS:-3}
seconds=${DURATION:-10}
batch=${BATCH:-500}
paced_connections=${PACED_CONNECTIONS:-4}
connections=${CONNECTIONS:-2}
out=${OUT:-$root/Benchmarks/results}
work=$(mktemp -d)
# The gateway first, so that it does not log reconnects to the nghttpd stopped under it.
trap 'kill ${gateway:-} 2>/dev/null; wait ${gateway:-} 2>/dev/null; kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  swift build -c release --product apns-gateway >&2
  bin=$(swift build -c release --show-bin-path)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
token=$(printf 'ab%.0s' $(seq 32))
mkdir -p "$work/htdocs/3/device"
: > "$work/htdocs/3/device/$token"
port=$(free_port)
peers_nice=${PEERS_NICE:-0}
peer=(nice -n "$peers_nice")  # how nghttpd and the senders are started
"${peer[@]}" nghttpd ${NGHTTPD_ARGS:-} -a 127.0.0.1 -m 1000 -d "$work/htdocs" "$port" certs/localhost.key certs/localhost.pem >/dev/null 2>&1 &
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
metrics_port=$(free_port)

cp certs/AuthKey_TESTKEY123.p8 "$work/key.p8"
chmod 600 "$work/key.p8"
cat > "$work/config.json" <<JSON
{
  "environment": {"host": "127.0.0.1", "port": $port, "serverName": "localhost", "caFile": "$root/certs/test-ca.pem"},
  "apps": [{"name": "bench", "teamId": "TEAM123456", "keyId": "TESTKEY123", "keyPath": "key.p8", "bundleId": "com.example.app"}],
  "pool": {"connections": $connections},
  "intake": {"socketPath": "gw.sock"},
  "logLevel": "warning",
  "metrics": {"listen": "127.0.0.1:$metrics_port"}
}
JSON
"$bin/apns-gateway" serve --config "$work/config.json" > "$work/gw.out" &
gateway=$!
for _ in $(seq 100); do grep -q ready "$work/gw.out" && break; sleep 0.1; done
scrape() { curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$1"; }
# The gateway's CPU ticks (user + system), its read and write system calls, and, summed over its threads, the
# nanoseconds they spent runnable but waiting for a CPU and the times they were scheduled (schedstat).
counters() {
  echo "$(cut -d' ' -f14-15 "/proc/$gateway/stat") $(awk '/^sysc[rw]:/ {print $2}' "/proc/$gateway/io" | tr '\n' ' ')" \
    "$(cat /proc/$gateway/task/*/schedstat | awk '{wait += $2; slices += $3} END {printf "%.0f %.0f", wait, slices}')"
}

"${peer[@]}" scripts/intake_load.py "$work/gw.sock" "$token" --total 20000 --connections 4 --batch 500 > /dev/null  # warm-up
: > "$work/runs.jsonl"
for run in $(seq "$runs"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  max=$("${peer[@]}" scripts/intake_load.py "$work/gw.sock" "$token" --total 200000 --connections 4 --batch 500)
  rate=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['pushes_per_second'])" "$max")
  half=$((rate / 2))
  scrape "$work/before.txt"
  counted=$(counters)
  if [ -n "${PERF_DATA:-}" ] && [ "$run" = "$runs" ]; then
    perf record -F 1999 -g -o "$PERF_DATA" -p "$gateway" 2>/dev/null &
    profiler=$!
  fi
  paced=$("${peer[@]}" scripts/paced_load.py "$work/gw.sock" "$token" --rate "$half" --seconds "$seconds" --batch "$batch" \
    --connections "$paced_connections")
  if [ -n "${profiler:-}" ]; then kill -INT "$profiler"; wait "$profiler" 2>/dev/null || true; profiler=""; fi
  scrape "$work/after.txt"
  counted="$counted $(counters) $(getconf CLK_TCK)"
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  python3 - "$work/before.txt" "$work/after.txt" "$run" "$max" "$paced" "$load" "$load_after" "$counted" >> "$work/runs.jsonl" <<'PY'
import json, math, sys

def buckets(path):
    """Cumulative bucket counts by family: {family: [(le, count), ...]} (le ascending, +Inf last)."""
    table = {}
    for line in open(path):
        if line.startswith("#") or "_bucket{" not in line:
            continue
        series, value = line.rsplit(" ", 1)
        name, labels = series.split("{", 1)
        family = name[: -len("_bucket")]
        le = labels.split('le="', 1)[1].split('"', 1)[0]
        table.setdefault(family, []).append((math.inf if le == "+Inf" else float(le), float(value)))
    return {family: sorted(rows) for family, rows in table.items()}

def quantile(rows, q):
    """Prometheus's histogram_quantile (linear within the bucket), and the bucket's bounds."""
    total = rows[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for le, count in rows:
        if count >= rank:
            if le == math.inf:
                return {"value": lower, "bucket": [lower, None]}
            share = (rank - below) / (count - below) if count > below else 1.0
            return {"value": lower + (le - lower) * share, "bucket": [lower, le]}
        lower, below = le, count
    return None

before, after = buckets(sys.argv[1]), buckets(sys.argv[2])
run, max_run, paced = int(sys.argv[3]), json.loads(sys.argv[4]), json.loads(sys.argv[5])
legs = {}
for leg, family in [("inbound", "apns_gateway_added_inbound_seconds"), ("outbound", "apns_gateway_added_outbound_seconds"),
                    ("inbound+outbound", "apns_gateway_added_seconds"), ("batch_wait", "apns_gateway_batch_wait_seconds")]:
    old = dict(before.get(family, []))
    rows = [(le, count - old.get(le, 0.0)) for le, count in after[family]]
    at_2ms = next((count for le, count in rows if le == 0.002), None)
    entry = {"count": int(rows[-1][1]), "share_at_or_below_2ms": round(at_2ms / rows[-1][1], 5) if rows[-1][1] and at_2ms is not None else None}
    for name, q in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)]:
        found = quantile(rows, q)
        entry[name + "_ms"] = round(found["value"] * 1000, 3) if found else None
        entry[name + "_bucket_ms"] = [round(b * 1000, 3) if b is not None else None for b in found["bucket"]] if found else None
    legs[leg] = entry
# The paced part's cost: gateway CPU seconds per 100,000 notifications, system calls per request.
# And how long its threads waited for a CPU while runnable: what the machine's other processes (nghttpd, the
# senders) cost it, which the latencies above include.
u0, s0, r0, w0, q0, n0, u1, s1, r1, w1, q1, n1, tck = map(int, sys.argv[8].split())
sent, requests = paced["notifications"], paced["notifications"] / paced["batch"]
cost = {"cpu_seconds_per_100k": round((u1 + s1 - u0 - s0) / tck / sent * 100_000, 4),
        "reads_per_request": round((r1 - r0) / requests, 1), "writes_per_request": round((w1 - w0) / requests, 1),
        "cpu_wait_us_per_request": round((q1 - q0) / 1000 / requests, 1),
        "cpu_wait_us_per_wakeup": round((q1 - q0) / 1000 / max(n1 - n0, 1), 1),
        "cpu_wait_share_of_paced_time": round((q1 - q0) / 1e9 / paced["seconds"], 4)}
print(json.dumps({"run": run, "load_before": sys.argv[6], "load_after": sys.argv[7],
                  "max_pushes_per_second": max_run["pushes_per_second"], "paced": paced, "cost": cost, "legs": legs}))
PY
  tail -1 "$work/runs.jsonl"
done

mkdir -p "$out"
python3 - "$work/runs.jsonl" "$out/added-latency.json" "$out/added-latency.md" "$(git rev-parse --short HEAD)" "$connections" "$peers_nice" <<'PY'
import json, sys, datetime
runs = [json.loads(line) for line in open(sys.argv[1])]
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
json.dump({"commit": sys.argv[4], "date": stamp, "apns_connections": int(sys.argv[5]), "peers_nice": int(sys.argv[6]), "runs": runs}, open(sys.argv[2], "w"), indent=1)
lines = [f"Added latency at half the maximum rate (commit {sys.argv[4]}, {stamp}; {sys.argv[5]} APNs connection(s), 210 B, "
         f"requests of {runs[0]['paced']['batch']} over {runs[0]['paced']['connections_to_intake']} intake connections; "
         f"nghttpd and the senders at niceness {sys.argv[6]})", "",
         "| run | load avg (1/5/15 min) before | max pushes/s | paced pushes/s | leg | count | p50 ms | p99 ms [bucket] | p99.9 ms [bucket] | ≤ 2 ms |",
         "|---|---|---|---|---|---|---|---|---|---|"]
def bucket(b):
    return f"({b[0]}, {b[1] if b[1] is not None else '∞'}]" if b else ""
for run in runs:
    for leg, entry in run["legs"].items():
        lines.append(f"| {run['run']} | {run['load_before']} | {run['max_pushes_per_second']} | {run['paced']['rate_achieved']} | {leg} | "
                     f"{entry['count']} | {entry['p50_ms']} | {entry['p99_ms']} {bucket(entry['p99_bucket_ms'])} | "
                     f"{entry['p999_ms']} {bucket(entry['p999_bucket_ms'])} | {entry['share_at_or_below_2ms']} |")
lines += ["", "The paced part's cost to the gateway:", "",
          "| run | CPU s per 100,000 | reads per request | writes per request | waiting for a CPU: µs per request | "
          "µs per wake-up | thread-seconds per second |", "|---|---|---|---|---|---|---|"]
lines += [f"| {run['run']} | {run['cost']['cpu_seconds_per_100k']} | {run['cost']['reads_per_request']} | "
          f"{run['cost']['writes_per_request']} | {run['cost']['cpu_wait_us_per_request']} | "
          f"{run['cost']['cpu_wait_us_per_wakeup']} | {run['cost']['cpu_wait_share_of_paced_time']} |" for run in runs]
open(sys.argv[3], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY

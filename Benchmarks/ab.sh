#!/usr/bin/env bash
# A same-run A/B of two gateway builds: alternating runs of scripts/intake-bench.sh, medians per build.
#
#   Benchmarks/ab.sh DIR_A DIR_B [PAIRS] [NOTIFICATIONS]     (defaults: 4 pairs of 200000)
#
# DIR_A and DIR_B are folders each holding a built apns-gateway (release). Each pair runs A then B, then the next
# pair B then A, so that a drift of the machine's load does not favour one side. Prints every run, then per build
# the median pushes/s, the median ratio to h2load (run just before each gateway run, same nghttpd) and the median
# gateway CPU seconds per 100,000 notifications. CONNECTIONS and PAYLOAD pass through to intake-bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 pairs=${3:-4} total=${4:-200000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() {  # label dir
  local lines
  lines=$(BIN=$2 scripts/intake-bench.sh "$total" 2>/dev/null)
  python3 - "$1" "$lines" <<'PY' | tee -a "$out"
import json, sys
label, rows = sys.argv[1], [json.loads(l) for l in sys.argv[2].splitlines() if l.startswith("{")]
h2 = next(r["pushes_per_second"] for r in rows if r.get("mode") == "h2load")
gw = next(r for r in rows if r.get("mode") == "gateway")
cpu = next(r["gateway_cpu_seconds_per_100k"] for r in rows if "gateway_cpu_seconds_per_100k" in r and "mode" not in r)
print(json.dumps({"build": label, "h2load": round(h2), "gateway": gw["pushes_per_second"],
                  "ratio": round(gw["pushes_per_second"] / h2, 3), "cpu_per_100k": cpu}))
PY
}
for i in $(seq "$pairs"); do
  if (( i % 2 )); then run A "$a"; run B "$b"; else run B "$b"; run A "$a"; fi
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for build in ("A", "B"):
    mine = [r for r in rows if r["build"] == build]
    print(json.dumps({"build": build, "runs": len(mine),
                      "median_pushes_per_second": statistics.median(r["gateway"] for r in mine),
                      "median_ratio_to_h2load": statistics.median(r["ratio"] for r in mine),
                      "median_cpu_per_100k": statistics.median(r["cpu_per_100k"] for r in mine)}))
PY

"""How fast the gateway sends scheduled ends that fall due in the same second: N activities with one token
each, an end scheduled for each 2 s ahead; prints when the first end reached the mock (after the due time)
and how long the first-to-last took. Usage: scheduled_ends_bench.py BIN_DIR [N]  (see scheduled-ends-bench.sh)
"""
import json
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reliability"))
import lab as labkit
from campaign import read_records

n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
lab = labkit.Lab(sys.argv[1])
try:
    port = labkit.free_port()
    record = lab.path("ends.records")
    mock = lab.start_mock(port, record=record)
    sock = lab.path("gw.sock")
    config = lab.write_config(port, sock, extra={"liveActivities": {"registryPath": lab.path("r.sqlite")}})
    gw = lab.start_gateway(config)
    tokens = [f"cafe{i:060x}" for i in range(n)]
    f = labkit.OpFeed(sock, [{"id": f"r-{i}", "op": "activity.register", "activityId": f"a-{i}", "deviceId": "d",
                              "token": tokens[i]} for i in range(n)]).start(); f.wait(120)
    fire_at = int(time.time()) + 2
    f = labkit.OpFeed(sock, [{"id": f"s-{i}", "op": "activity.schedule_end", "activityId": f"a-{i}", "at": fire_at,
                              "scheduleId": f"e-{i}", "contentState": {"over": True}} for i in range(n)]).start(); f.wait(120)
    def count():
        return sum(1 for r in read_records([record], tokens=True) if r[2] == "200" and r[4].startswith("cafe"))
    labkit.wait_until(lambda: count() >= n, 120, interval=0.05, what="all ends")
    times = sorted(r[0] / 1000 for r in read_records([record], tokens=True) if r[2] == "200")
    print(json.dumps({"ends": n, "first_after_due_s": round(times[0] - fire_at, 3),
                      "first_to_last_s": round(times[-1] - times[0], 3),
                      "ends_per_s": round(n / max(times[-1] - times[0], 1e-3))}))
    gw.stop(); mock.stop()
finally:
    lab.close()

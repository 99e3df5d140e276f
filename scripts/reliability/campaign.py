#!/usr/bin/env python3
"""The fault campaign: for each fault, the real `apns-gateway serve` against `apns-mock`, fed through its
socket with notifications that each carry their own apns-id; the mock's record file says how often each was
delivered. Run it through scripts/fault-campaign.sh, which builds the release binaries first.

  campaign.py --bin DIR [--notifications N] [--only NAME,...] [--doc docs/reliability.md] [--json FILE] [--keep]
"""
import argparse
import json
import os
import random
import sqlite3
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as labkit  # noqa: E402
import report  # noqa: E402

# A notification counts as delivered by an attempt that the mock answered 200, or that it received and
# never answered (dropped or stalled connection) or reset: the device may have got it each time.
DELIVERED = {"200", "lost", "reset"}
STREAM_FAULTS = {"reset", "429", "500", "503"}
# Faults run only when named in --only: the stall with default timeouts lasts NOTIFICATIONS / --stall-rate seconds.
OPT_IN = {"stall-defaults"}


def read_records(paths, tokens=False):
    """The record files of successive mock instances as (ms, apns-id, outcome, (instance, connection)), with the
    device token (or "-") as a fifth item when `tokens` is set."""
    records = []
    for instance, path in enumerate(paths):
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 5:
                    record = (int(parts[0]), parts[1], parts[2], (instance, int(parts[3])))
                    records.append(record + (parts[4],) if tokens else record)
    return records


class Run:
    """One fault's run: its feeds, the mock record files, and the moments the script caused."""

    def __init__(self, name, description):
        self.name = name
        self.description = description
        self.feeds = []
        self.record_files = []
        self.server_back_at = None  # the server can serve again (restart, fix, first start)
        self.gateway_restarted_at = None
        self.notes = []
        self.hung = False
        self.gateway_crashed = False
        # What does not add up in the gateway's own counters at the end, if anything.
        self.accounting = None
        self.expect_lost = False
        # Notifications sent once the fault is over: at least one must get a 200.
        self.after_probe = None
        # The feed the throughput is measured on (the first when not set).
        self.main = None
        self.extra = {}


def analyse(run):
    records = read_records(run.record_files)
    deliveries, accepted, first_fault, first_ok_after = {}, {}, {}, {}
    for ms, apns_id, outcome, _ in sorted(records):
        if outcome in DELIVERED:
            deliveries[apns_id] = deliveries.get(apns_id, 0) + 1
        if outcome == "200":
            accepted[apns_id] = accepted.get(apns_id, 0) + 1
            if apns_id in first_fault and apns_id not in first_ok_after:
                first_ok_after[apns_id] = ms
        if outcome in STREAM_FAULTS and apns_id not in first_fault:
            first_fault[apns_id] = ms

    sent = results = lost = unmarked = marked = accepted_twice_unmarked = phantom = 0
    outcomes = {}
    last_answer = None
    for feed in run.feeds:
        indices = feed.attempted_indices()
        sent += len(indices)
        for index in indices:
            code = feed.results[index]
            apns_id = labkit.apns_id(feed.prefix, feed.start_index + index)
            if code is None:
                lost += 1
                continue
            results += 1
            outcomes[code] = outcomes.get(code, 0) + 1
            is_marked = code.endswith("+dup")
            if deliveries.get(apns_id, 0) >= 2:
                if is_marked:
                    marked += 1
                else:
                    unmarked += 1
            if accepted.get(apns_id, 0) >= 2 and not is_marked:
                accepted_twice_unmarked += 1
            if code.startswith("200") and accepted.get(apns_id, 0) == 0:
                phantom += 1
    main = run.main or run.feeds[0]
    answered = [t for t in main.answered_at if t is not None]
    main_results = len(answered)
    if answered:
        last_answer = max(answered)

    # Recovery.
    recover = None
    how = ""
    if run.server_back_at is not None:
        oks = [ms for ms, _, outcome, _ in records if outcome == "200" and ms / 1000 >= run.server_back_at - 0.001]
        if run.gateway_restarted_at is not None:
            oks = [ms for ms, apns_id, outcome, _ in records if outcome == "200" and ms / 1000 >= run.gateway_restarted_at
                   and apns_id.startswith(run.feeds[-1].prefix)]
            start = run.gateway_restarted_at
            how = "gateway restart to first 200"
        else:
            start = run.server_back_at
            how = "server back to first 200"
        recover = (min(oks) / 1000 - start) if oks else None
    else:
        # In-band faults: each connection's first fault event, to the first 200 on a connection accepted
        # after it; stream faults: each notification's first fault answer to its 200.
        accepted_at = {}
        fault_at = {}
        for ms, apns_id, outcome, conn in records:
            if outcome == "connect":
                accepted_at[conn] = ms
            elif outcome in ("goaway", "lost"):
                fault_at.setdefault(conn, ms)
        gaps = []
        if fault_at:
            oks = sorted((ms, conn) for ms, _, outcome, conn in records if outcome == "200")
            for conn, t in fault_at.items():
                later = [ms for ms, c in oks if c != conn and accepted_at.get(c, -1) >= t and ms >= t]
                gaps.append((min(later) - t) / 1000 if later else None)
            how = "fault to first 200 on a new connection (worst)"
            # The last connection's fault may come after the feed ended: nothing left to send.
            done = [g for g in gaps if g is not None]
            recover = max(done) if done else None
            run.extra["connection_faults"] = len(gaps)
        elif first_ok_after:
            gaps = [(first_ok_after[i] - first_fault[i]) / 1000 for i in first_ok_after]
            recover = max(gaps)
            how = "fault answer to the same notification's 200 (worst)"
            run.extra["retry_recovery_median_s"] = round(statistics.median(gaps), 3)
    refused = sum(1 for r in records if r[2] == "refused")
    seconds = (last_answer - main.started) if last_answer else None
    ok = sum(1 for code in main.results if code and code.startswith("200"))
    failures = []
    if lost and not run.expect_lost:
        failures.append(f"{lost} without a result")
    if unmarked:
        failures.append(f"{unmarked} delivered twice, not marked")
    if phantom:
        failures.append(f"{phantom} results of 200 the server never gave")
    if run.hung:
        failures.append("hang: replies missing at the deadline")
    if run.gateway_crashed:
        failures.append("the gateway exited")
    if run.accounting:
        failures.append(f"the gateway's counters do not add up: {run.accounting}")
    after = run.after_probe
    if after is not None and not any(code and code.startswith("200") for code in after.results):
        failures.append("did not recover: no 200 for the notifications sent after the fault")
    return {
        "fault": run.name,
        "description": run.description,
        "sent": sent,
        "results": results,
        "lost": lost,
        "duplicates_unmarked": unmarked,
        "duplicates_marked": marked,
        "accepted_twice_unmarked": accepted_twice_unmarked,
        "phantom_200": phantom,
        "refused_by_goaway": refused,
        "recover_seconds": None if recover is None else round(recover, 3),
        "recover_measure": how,
        "pushes_per_second": round(main_results / seconds) if seconds else None,
        "ok_per_second": round(ok / seconds) if seconds else None,
        "outcomes": dict(sorted(outcomes.items(), key=lambda kv: -kv[1])),
        "details": {code: detail for feed in run.feeds for code, detail in feed.details.items()},
        "notes": run.notes,
        "extra": run.extra,
        "verdict": "PASS" if not failures else "FAIL: " + "; ".join(failures),
    }


class Campaign:
    def __init__(self, args):
        self.args = args
        self.lab = labkit.Lab(args.bin, keep=args.keep)
        self.serial = 0
        self.bad_certs = None

    def prefix(self):
        return "%08x" % random.getrandbits(32)

    def feed(self, run, socket_path, total, **kwargs):
        feed = labkit.Feed(socket_path, self.prefix(), total, batch=self.args.batch,
                           connections=self.args.intake_connections, **kwargs).start()
        run.feeds.append(feed)
        return feed

    def finish(self, run, feed, timeout=120):
        if not feed.wait(timeout):
            run.hung = True

    def probe_after(self, run, sock):
        """Sends a few more notifications once the main feed is done: the gateway must serve them."""
        run.after_probe = self.feed(run, sock, self.args.probe)
        self.finish(run, run.after_probe)

    def setup(self, run, port=None, mock_faults=(), timeouts=None, start_mock=True, mock_args=None, extra=None):
        """A mock (unless `start_mock` is false) and a gateway for `run` (`extra`: more configuration sections);
        returns (port, mock, gateway, config, socket)."""
        self.serial += 1
        port = port or labkit.free_port()
        record = self.lab.path(f"{run.name}-{self.serial}-0.records")
        run.record_files.append(record)
        mock = None
        if start_mock:
            mock = self.lab.start_mock(port, name=f"{run.name}-mock", faults=mock_faults, record=record,
                                       **(mock_args or {}))
        sock = self.lab.path(f"gw{self.serial}.sock")
        config = self.lab.write_config(port, sock, name=f"{run.name}.json", timeouts=timeouts,
                                       connections=self.args.connections, log_level="info",
                                       reconnect_max=self.args.reconnect_max, extra=extra)
        gateway = self.lab.start_gateway(config, name=f"{run.name}-gateway")
        return port, mock, gateway, config, sock

    def teardown(self, run, gateway, mock):
        if gateway.alive():
            problem = labkit.accounting_problem(gateway.socket_path)
            if problem:
                run.accounting = problem
        else:
            run.gateway_crashed = True
            run.notes.append(f"gateway exit status {gateway.process.returncode}: {gateway.log_tail(5)}")
        status = gateway.stop()
        if status not in (0, None) and not run.gateway_crashed:
            run.notes.append(f"gateway stopped with status {status}")
        if mock is not None:
            mock.stop()

    # The faults.

    def baseline(self):
        run = Run("none (baseline)", "no fault: the reference figures")
        _, mock, gateway, _, sock = self.setup(run)
        self.finish(run, self.feed(run, sock, self.args.notifications))
        self.teardown(run, gateway, mock)
        return run

    def in_band(self, name, description, faults, timeouts=None, total=None):
        run = Run(name, description)
        _, mock, gateway, _, sock = self.setup(run, mock_faults=faults, timeouts=timeouts)
        self.finish(run, self.feed(run, sock, total or self.args.notifications))
        self.probe_after(run, sock)
        self.teardown(run, gateway, mock)
        return run

    def stall_defaults(self):
        """A stall under steady load with the gateway's default timeouts: each of the first connections stops
        answering after 1,000 requests (--stall-after 1000 --stall-connections), their replacements do not. The
        figures are the time until pushes succeed again and how many end DeadlineExceeded."""
        connections = self.args.connections
        rate = self.args.stall_rate
        run = Run("stalled server, default timeouts",
                  f"the gateway's first {connections} connections each stop answering (not even PING) after 1000 "
                  f"requests (--stall-after 1000 --stall-connections {connections}); their replacements answer; "
                  f"steady load of {rate} notifications/s; the gateway's default timeouts")
        faults = ["--stall-after", "1000", "--stall-connections", str(connections)]
        _, mock, gateway, _, sock = self.setup(run, mock_faults=faults)
        n = self.args.notifications
        # Small batches at a fixed rate: a steady stream rather than bursts of 250.
        feed = labkit.Feed(sock, self.prefix(), n, batch=20, connections=self.args.intake_connections,
                           rate=rate).start()
        run.feeds.append(feed)
        # Pushes sent during a stall that goes unnoticed wait out their request deadline (30 s by default).
        self.finish(run, feed, timeout=n / rate + 120)
        self.probe_after(run, sock)
        self.teardown(run, gateway, mock)
        deadline = sum(1 for code in feed.results if code and code.startswith("gateway:DeadlineExceeded"))
        run.extra["deadline_exceeded"] = deadline
        return run

    def mock_restart(self):
        run = Run("server restart (SIGKILL)", "the mock is killed with SIGKILL under load and started again on the same port")
        port, mock, gateway, _, sock = self.setup(run)
        n = self.args.notifications
        feed = self.feed(run, sock, n)
        labkit.wait_until(lambda: feed.progress() >= n // 3 or not feed.threads[0].is_alive(), 60,
                          what="a third of the results")
        mock.kill()
        run.extra["killed_at_results"] = feed.progress()
        record = self.lab.path(f"{run.name}-{self.serial}-1.records")
        run.record_files.append(record)
        mock = self.lab.start_mock(port, name=f"{run.name}-mock2", record=record)
        run.server_back_at = mock.listening_at
        self.finish(run, feed)
        self.probe_after(run, sock)
        self.teardown(run, gateway, mock)
        return run

    def make_bad_certs(self):
        if self.bad_certs:
            return self.bad_certs
        work = self.lab.work
        other_key, other_cert = os.path.join(work, "other.key"), os.path.join(work, "other.pem")
        wrong_key, wrong_cert = os.path.join(work, "wrong.key"), os.path.join(work, "wrong.pem")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True}
        # A certificate for localhost from a CA the gateway does not trust.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", other_key, "-out", other_cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], **quiet)
        # A certificate from the trusted test CA, for another name.
        csr = os.path.join(work, "wrong.csr")
        ext = os.path.join(work, "wrong.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:push.wrong.example\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", wrong_key, "-out", csr, "-subj", "/CN=push.wrong.example"], **quiet)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(labkit.CERTS, "test-ca.pem"),
                        "-CAkey", os.path.join(labkit.CERTS, "test-ca.key"), "-CAcreateserial",
                        "-CAserial", os.path.join(work, "ca.srl"), "-out", wrong_cert, "-days", "2",
                        "-extfile", ext], **quiet)
        for key in (other_key, wrong_key):
            os.chmod(key, 0o600)
        self.bad_certs = {"untrusted": (other_cert, other_key), "wrong-name": (wrong_cert, wrong_key)}
        return self.bad_certs

    def tls_failure(self, kind):
        cert, key = self.make_bad_certs()[kind]
        label = {"untrusted": "a CA the gateway does not trust", "wrong-name": "a trusted CA but for another name"}[kind]
        run = Run(f"TLS handshake failure ({kind})",
                  f"the server presents a certificate from {label}; then it is restarted with the right one")
        port, mock, gateway, _, sock = self.setup(run, mock_args={"cert": cert, "key": key})
        # Phase 1: everything fails with a clear gateway error, promptly.
        probe = self.feed(run, sock, self.args.probe)
        began = time.time()
        self.finish(run, probe, timeout=60)
        run.extra["failing_phase_seconds"] = round(time.time() - began, 3)
        # The fix: the right certificate on the same port.
        mock.stop()
        record = self.lab.path(f"{run.name}-{self.serial}-1.records")
        run.record_files.append(record)
        mock = self.lab.start_mock(port, name=f"{run.name}-mock2", record=record)
        run.server_back_at = mock.listening_at
        run.main = self.feed(run, sock, self.args.notifications)
        self.finish(run, run.main)
        self.probe_after(run, sock)
        self.teardown(run, gateway, mock)
        return run

    def connect_failure(self):
        run = Run("connect failure", f"nothing listens on the APNs port for {self.args.outage} s under load; then the server comes up")
        port, _, gateway, _, sock = self.setup(run, start_mock=False)
        feed = self.feed(run, sock, self.args.notifications)
        time.sleep(self.args.outage)  # the length of the outage, not a synchronisation
        mock = self.lab.start_mock(port, name=f"{run.name}-mock", record=run.record_files[0])
        run.server_back_at = mock.listening_at
        self.finish(run, feed)
        self.probe_after(run, sock)
        self.teardown(run, gateway, mock)
        return run

    def gateway_kill(self):
        run = Run("gateway SIGKILL and restart",
                  "the gateway is killed with SIGKILL under load, then started again on the same socket and fed anew")
        run.expect_lost = True
        port, mock, gateway, config, sock = self.setup(run)
        n = self.args.notifications
        feed = self.feed(run, sock, n)
        labkit.wait_until(lambda: feed.progress() >= n // 3, 60, what="a third of the results")
        run.extra["gateway_killed"] = True
        gateway.kill()
        self.finish(run, feed, timeout=30)
        run.extra["requests_without_reply"] = feed.requests_unanswered
        # Of the notifications without a result, how many the server had delivered anyway.
        records = read_records(run.record_files)
        delivered = {r[1] for r in records if r[2] == "200"}
        missing = [labkit.apns_id(feed.prefix, i) for i in feed.attempted_indices() if feed.results[i] is None]
        run.extra["unanswered_but_delivered"] = sum(1 for i in missing if i in delivered)
        run.extra["unanswered_not_delivered"] = len(missing) - run.extra["unanswered_but_delivered"]
        restarted = time.time()
        gateway = self.lab.start_gateway(config, name=f"{run.name}-gateway2")
        run.gateway_restarted_at = restarted
        run.server_back_at = restarted
        run.extra["restart_to_ready_seconds"] = round(gateway.ready_at - restarted, 3)
        run.after_probe = self.feed(run, sock, self.args.probe * 5)
        self.finish(run, run.after_probe)
        run.extra.pop("gateway_killed")
        self.teardown(run, gateway, mock)
        return run

    def registry_kill(self):
        """SIGKILL while `activity.register` writes are committing; returns a finished row (not a Run)."""
        name = "gateway SIGKILL during registry writes"
        description = ("the gateway is killed with SIGKILL while activity.register requests (creates, then "
                       "replacements) are being written to its SQLite registry; then the registry file is checked, "
                       "the gateway restarted, one activity.update pushed per activity, and every registration "
                       "made again (acknowledged ones must be unchanged)")
        run = Run(name, description)
        registry = self.lab.path("registry-kill.sqlite")
        _, mock, gateway, config, sock = self.setup(run, extra={"liveActivities": {"registryPath": registry}})
        record = run.record_files[0]

        n = max(1000, self.args.notifications // 4)
        prefix = self.prefix()

        def token(kind, i):
            return f"{prefix}{kind:02x}{i:054x}"

        def register(kind, i):
            return {"id": f"{kind}-{i}", "op": "activity.register", "activityId": f"act-{i}",
                    "deviceId": f"dev-{i}", "token": token(kind, i)}

        # Phase 1: every activity created with token 1, then replaced with token 2 (a delete and an insert in
        # one transaction); the kill lands in the replacements.
        requests = [register(1, i) for i in range(n)] + [register(2, i) for i in range(n)]
        writes = labkit.OpFeed(sock, requests, connections=2).start()
        labkit.wait_until(lambda: writes.progress() >= n + n // 3 or not any(t.is_alive() for t in writes.threads),
                          120, what="the replacements under way")
        gateway.kill()
        killed_at_replies = writes.progress()
        writes.wait(30)
        failures = []
        acked = {rid: reply for rid, reply in writes.replies.items() if "registered" in reply}
        errors = {rid: reply for rid, reply in writes.replies.items() if "registered" not in reply}
        if errors:
            failures.append(f"{len(errors)} error replies before the kill, e.g. {next(iter(errors.values()))}")

        # The registry as the killed process left it (SQLite replays its write-ahead log on open).
        with sqlite3.connect(registry) as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            rows = db.execute("SELECT activity_id, device_id, token FROM activity_tokens").fetchall()
        if integrity != "ok":
            failures.append(f"integrity_check: {integrity}")
        stored = {}
        for activity, device, stored_token in rows:
            stored.setdefault((activity, device), []).append(stored_token)
        lost_writes = wrong = 0
        for i in range(n):
            found = stored.get((f"act-{i}", f"dev-{i}"), [])
            if f"2-{i}" in acked:
                expected = [token(2, i)]
            elif f"1-{i}" in acked:
                expected = [token(1, i)] if f"2-{i}" not in writes.written else [token(1, i), token(2, i)]
            else:
                expected = [[], token(1, i), token(2, i)]
            if f"1-{i}" in acked or f"2-{i}" in acked:
                if len(found) != 1 or found[0] not in expected:
                    lost_writes += 1
            elif len(found) > 1 or (found and found[0] not in expected):
                wrong += 1
        if lost_writes:
            failures.append(f"{lost_writes} acknowledged registrations missing or stale after the kill")
        if wrong:
            failures.append(f"{wrong} registrations in a state no request asked for")
        in_flight = sum(1 for rid in writes.written if rid not in writes.replies)
        committed_unacked = sum(
            1 for rid in writes.written if rid not in writes.replies
            for kind, i in [map(int, rid.split("-"))] if token(kind, i) in stored.get((f"act-{i}", f"dev-{i}"), []))

        # Phase 2: restart on the same registry, then one update per activity; each goes to its one live token,
        # exactly once.
        restarted = time.time()
        gateway = self.lab.start_gateway(config, name="registry-kill-gateway2")
        restart_to_ready = gateway.ready_at - restarted

        updates = labkit.OpFeed(sock, [{"id": f"u-{i}", "op": "activity.update", "activityId": f"act-{i}",
                                        "contentState": {"step": i}} for i in range(n)]).start()
        if not updates.wait(120):
            run.hung = True
        apns_ids, outcomes = [], {}
        sent = results = 0
        for i in range(n):
            reply = updates.replies.get(f"u-{i}")
            if reply is None:
                continue
            sent += reply.get("counts", {}).get("sent", 0)
            for result in reply.get("results", []):
                if "status" in result or "reason" in result:
                    results += 1
                    code = labkit.result_code(result)
                    outcomes[code] = outcomes.get(code, 0) + 1
                    if result.get("apnsId"):
                        apns_ids.append((result["apnsId"].lower(), code))
        if sent != n:
            failures.append(f"{sent} updates sent for {n} activities")

        # Phase 3: every activity registered with token 2 again: those whose replacement was acknowledged
        # must answer `unchanged`.
        again = labkit.OpFeed(sock, [register(2, i) | {"id": f"again-{i}"} for i in range(n)]).start()
        if not again.wait(120):
            run.hung = True
        not_unchanged = sum(1 for i in range(n) if f"2-{i}" in acked
                            and again.replies.get(f"again-{i}", {}).get("registered") != "unchanged")
        unanswered = sum(1 for i in range(n) if "registered" not in again.replies.get(f"again-{i}", {}))
        if not_unchanged:
            failures.append(f"{not_unchanged} acknowledged replacements not found unchanged after the restart")
        if unanswered:
            failures.append(f"{unanswered} registrations after the restart without success")

        records = read_records([record])
        delivered = {}
        for _, apns_id, outcome, _ in records:
            if outcome in DELIVERED:
                delivered[apns_id] = delivered.get(apns_id, 0) + 1
        unmarked = sum(1 for apns_id, code in apns_ids if delivered.get(apns_id, 0) >= 2 and not code.endswith("+dup"))
        marked = sum(1 for apns_id, code in apns_ids if delivered.get(apns_id, 0) >= 2 and code.endswith("+dup"))
        if unmarked:
            failures.append(f"{unmarked} updates delivered twice, not marked")
        oks = [ms / 1000 for ms, _, outcome, _ in records if outcome == "200" and ms / 1000 >= restarted]
        if not oks:
            failures.append("did not recover: no 200 after the restart")
        if run.hung:
            failures.append("hang: replies missing at the deadline")
        first_update = min((ms for ms, _, outcome, _ in records if outcome == "200"), default=None)
        seconds = (max(oks) - first_update / 1000) if oks and first_update else None

        problem = labkit.accounting_problem(sock) if gateway.alive() else "the gateway exited"
        if problem:
            failures.append(problem)
        gateway.stop()
        mock.stop()
        return {
            "fault": name,
            "description": description,
            "sent": sent,
            "results": results,
            "lost": sent - results,
            "duplicates_unmarked": unmarked,
            "duplicates_marked": marked,
            "accepted_twice_unmarked": 0,
            "phantom_200": 0,
            "refused_by_goaway": 0,
            "recover_seconds": round(min(oks) - restarted, 3) if oks else None,
            "recover_measure": "gateway restart to first 200",
            "pushes_per_second": round(results / seconds) if seconds else None,
            "ok_per_second": None,
            "outcomes": dict(sorted(outcomes.items(), key=lambda kv: -kv[1])),
            "details": {},
            "notes": [],
            "extra": {
                "registrations_requested": 2 * n,
                "replies_before_kill": killed_at_replies,
                "acknowledged_before_kill": len(acked),
                "written_without_reply": in_flight,
                "of_which_committed": committed_unacked,
                "integrity_check": integrity,
                "acknowledged_but_lost": lost_writes,
                "restart_to_ready_seconds": round(restart_to_ready, 3),
            },
            "verdict": "PASS" if not failures else "FAIL: " + "; ".join(failures),
        }

    def schedule_kill(self):
        """SIGKILL while the scheduler claims and sends due scheduled ends; returns a finished row (not a Run)."""
        name = "gateway SIGKILL while scheduled ends fire"
        description = ("the gateway is killed with SIGKILL while its scheduler claims and sends due scheduled ends "
                       "(one activity with one token per end); then the registry file is checked and the gateway "
                       "restarted: every end is sent at most once, the ones still pending are sent after the restart, "
                       "and an end claimed but not confirmed is not sent again")
        run = Run(name, description)
        registry = self.lab.path("schedule-kill.sqlite")
        _, mock, gateway, config, sock = self.setup(run, extra={"liveActivities": {"registryPath": registry}})
        record = run.record_files[0]
        n = max(500, self.args.notifications // 20)
        prefix = self.prefix()
        token_of = {f"{prefix}{i:056x}": i for i in range(n)}
        tokens = list(token_of)
        failures = []

        setup = labkit.OpFeed(sock, [{"id": f"r-{i}", "op": "activity.register", "activityId": f"end-act-{i}",
                                      "deviceId": "d", "token": tokens[i]} for i in range(n)]).start()
        setup.wait(120)
        fire_at = int(time.time()) + 2
        schedule = labkit.OpFeed(sock, [{"id": f"s-{i}", "op": "activity.schedule_end", "activityId": f"end-act-{i}",
                                         "at": fire_at, "scheduleId": f"end-{i}", "contentState": {"over": True}}
                                        for i in range(n)]).start()
        schedule.wait(120)
        bad = [r for r in list(setup.replies.values()) + list(schedule.replies.values()) if "error" in r]
        if bad or len(setup.replies) + len(schedule.replies) != 2 * n:
            failures.append(f"setup: {len(bad)} errors, {len(setup.replies) + len(schedule.replies)} of {2 * n} replies")

        def delivered():
            counts = {}
            for record_line in read_records([record], tokens=True):
                if record_line[2] in DELIVERED and record_line[4] in token_of:
                    counts[record_line[4]] = counts.get(record_line[4], 0) + 1
            return counts

        labkit.wait_until(lambda: sum(delivered().values()) >= n // 3, 60, interval=0.01, what="a third of the ends sent")
        gateway.kill()
        before = delivered()

        with sqlite3.connect(registry) as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            states = dict(db.execute("SELECT id, state FROM scheduled_ends").fetchall())
        if integrity != "ok":
            failures.append(f"integrity_check: {integrity}")
        at_kill = {state: sum(1 for v in states.values() if v == state) for state in ("pending", "firing", "done")}
        for i, t in enumerate(tokens):
            state, count = states.get(f"end-{i}"), before.get(t, 0)
            if state == "done" and count != 1 or state == "pending" and count != 0 or state == "firing" and count > 1:
                failures.append(f"end-{i} is {state} at the kill with {count} deliveries")
                break

        restarted = time.time()
        gateway = self.lab.start_gateway(config, name="schedule-kill-gateway2")

        def settled():
            # Every end pending at the kill is done: none pending, and none firing but those left by the kill.
            with sqlite3.connect(registry) as db:
                unsettled = db.execute(
                    "SELECT count(*) FROM scheduled_ends WHERE state IN ('pending', 'firing')").fetchone()[0]
            return unsettled == at_kill["firing"]
        hung = False
        try:
            labkit.wait_until(settled, 60, interval=0.1, what="every pending end sent")
        except TimeoutError:
            hung = True
            failures.append("hang: ends still pending 60 s after the restart")
        after = delivered()
        with sqlite3.connect(registry) as db:
            final = dict(db.execute("SELECT id, state FROM scheduled_ends").fetchall())
        twice = sum(1 for t in tokens if after.get(t, 0) >= 2)
        if twice:
            failures.append(f"{twice} ends delivered twice")
        pending_not_sent = sum(1 for i, t in enumerate(tokens)
                               if states.get(f"end-{i}") == "pending" and after.get(t, 0) != 1)
        if pending_not_sent:
            failures.append(f"{pending_not_sent} ends pending at the kill not sent once after the restart")
        firing_resent = sum(1 for i, t in enumerate(tokens)
                            if states.get(f"end-{i}") == "firing" and (final.get(f"end-{i}") != "firing"
                                                                         or after.get(t, 0) != before.get(t, 0)))
        if firing_resent:
            failures.append(f"{firing_resent} ends claimed before the kill were sent or changed after the restart")
        oks = [r[0] / 1000 for r in read_records([record], tokens=True) if r[2] == "200" and r[0] / 1000 >= restarted]
        if at_kill["pending"] and not oks:
            failures.append("did not recover: no end sent after the restart")
        problem = labkit.accounting_problem(sock) if gateway.alive() else "the gateway exited"
        if problem:
            failures.append(problem)
        gateway.stop()
        mock.stop()
        sent_once = sum(1 for t in tokens if after.get(t, 0) == 1)
        firing_delivered = sum(1 for i, t in enumerate(tokens) if states.get(f"end-{i}") == "firing" and before.get(t, 0))
        return {
            "fault": name,
            "description": description,
            "sent": n,
            "results": sent_once,
            "lost": 0,
            "duplicates_unmarked": twice,
            "duplicates_marked": 0,
            "accepted_twice_unmarked": 0,
            "phantom_200": 0,
            "refused_by_goaway": 0,
            "recover_seconds": round(min(oks) - restarted, 3) if oks else None,
            "recover_measure": "gateway restart to the first end sent",
            "pushes_per_second": None,
            "ok_per_second": None,
            "outcomes": {k: v for k, v in {
                "done, delivered once": sum(1 for i, t in enumerate(tokens)
                                            if final.get(f"end-{i}") == "done" and after.get(t, 0) == 1),
                "left firing, delivered once before the kill": firing_delivered,
                "left firing, never delivered": at_kill["firing"] - firing_delivered,
            }.items() if v},
            "details": {},
            "notes": [],
            "extra": {
                "ends": n,
                "done_at_kill": at_kill["done"],
                "firing_at_kill": at_kill["firing"],
                "pending_at_kill": at_kill["pending"],
                "firing_at_kill_delivered": firing_delivered,
                "integrity_check": integrity,
                "done_at_end": sum(1 for v in final.values() if v == "done"),
            },
            "verdict": "PASS" if not failures and not hung else "FAIL: " + "; ".join(failures),
        }

    def plan(self):
        n = self.args.notifications
        per_connection = max(1000, n // (3 * self.args.connections))
        stall_timeouts = {"requestSeconds": 2, "pingIntervalSeconds": 1, "pingTimeoutSeconds": 1}
        return [
            ("baseline", self.baseline),
            ("goaway", lambda: self.in_band(
                "GOAWAY mid-batch", f"every connection gets GOAWAY after {per_connection} answered streams (--goaway-after)",
                ["--goaway-after", str(per_connection)])),
            ("close", lambda: self.in_band(
                "TCP close", f"every connection is dropped (no GOAWAY, no close_notify) at its {per_connection}th request (--close-after)",
                ["--close-after", str(per_connection)])),
            ("reset", lambda: self.in_band(
                "RST_STREAM", "every 50th stream is reset with INTERNAL_ERROR (--reset-every 50)", ["--reset-every", "50"])),
            ("429", lambda: self.in_band(
                "429 storm", "every 3rd request is answered 429 TooManyRequests (--status-every 3:429)", ["--status-every", "3:429"])),
            ("500", lambda: self.in_band(
                "500 storm", "every 3rd request is answered 500 InternalServerError (--status-every 3:500)", ["--status-every", "3:500"])),
            ("503", lambda: self.in_band(
                "503 storm", "every 3rd request is answered 503 ServiceUnavailable (--status-every 3:503)", ["--status-every", "3:503"])),
            ("stall", lambda: self.in_band(
                "stalled server", f"every connection stops answering (not even PING) after {per_connection} requests "
                f"(--stall-after); gateway requestSeconds 2, PING after 1 s idle, timeout 1 s",
                ["--stall-after", str(per_connection)], timeouts=stall_timeouts)),
            ("stall-defaults", self.stall_defaults),
            ("restart", self.mock_restart),
            ("tls-untrusted", lambda: self.tls_failure("untrusted")),
            ("tls-name", lambda: self.tls_failure("wrong-name")),
            ("connect", self.connect_failure),
            ("gateway-kill", self.gateway_kill),
            ("registry-kill", self.registry_kill),
            ("schedule-kill", self.schedule_kill),
        ]

    def run(self):
        rows = []
        wanted = set(self.args.only.split(",")) if self.args.only else None
        for key, step in self.plan():
            if wanted and key not in wanted or not wanted and key in OPT_IN:
                continue
            print(f"== {key}", file=sys.stderr, flush=True)
            began = time.time()
            run = step()
            # A step returns its Run for the common analysis, or (the registry kills) its finished row.
            row = run if isinstance(run, dict) else analyse(run)
            row["key"] = key
            row["wall_seconds"] = round(time.time() - began, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if row["verdict"] != "PASS":
                print(f"   {row['verdict']}\n   logs in {self.lab.work}", file=sys.stderr, flush=True)
                self.lab.keep = True
        return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the folder with apns-gateway and apns-mock (release)")
    parser.add_argument("--notifications", type=int, default=40000, help="per fault (default 40000)")
    parser.add_argument("--probe", type=int, default=2000, help="notifications sent while TLS fails (default 2000)")
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--intake-connections", type=int, default=2)
    parser.add_argument("--connections", type=int, default=2, help="the gateway's APNs connections (default 2)")
    parser.add_argument("--outage", type=float, default=2.0, help="seconds nothing listens in the connect-failure run")
    parser.add_argument("--reconnect-max", type=float,
                        help="the gateway's pool.reconnectMaxBackoffSeconds (default: the gateway's own, 5)")
    parser.add_argument("--stall-rate", type=int, default=200,
                        help="notifications per second in the stall-defaults run (default 200)")
    parser.add_argument("--only", help="comma-separated fault keys: baseline goaway close reset 429 500 503 stall "
                                       "stall-defaults (only when named) restart tls-untrusted tls-name connect gateway-kill registry-kill schedule-kill")
    parser.add_argument("--doc", help="update the table in this markdown file (between its markers)")
    parser.add_argument("--json", help="write the rows to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, record files)")
    args = parser.parse_args()

    campaign = Campaign(args)

    def stop(number, _frame):
        campaign.lab.close()
        sys.exit(128 + number)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    started = time.time()
    try:
        rows = campaign.run()
    finally:
        campaign.lab.close()
    meta = report.machine(started)
    meta["notifications_per_fault"] = args.notifications
    meta["gateway_connections"] = args.connections
    if args.reconnect_max:
        meta["reconnect_max_backoff_seconds"] = args.reconnect_max
    table = report.campaign_table(rows, meta)
    print(table)
    if args.json:
        report.update_json(args.json, "campaign", {"meta": meta, "rows": rows})
    if args.doc:
        report.update_doc(args.doc, "fault-campaign", table)
    failed = [row for row in rows if row["verdict"] != "PASS"]
    if failed:
        print(f"{len(failed)} of {len(rows)} faults FAILED", file=sys.stderr)
        return 1
    print(f"all {len(rows)} faults passed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

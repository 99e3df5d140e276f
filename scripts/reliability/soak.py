#!/usr/bin/env python3
"""The soak: the gateway (release build) under continuous load from several sender processes for SECONDS,
against apns-mock, with a fault every FAULT_EVERY seconds in turn: the mock killed with SIGKILL and started
again, GOAWAY on every connection, a burst of 503s. Every SAMPLE seconds it records the gateway's RSS, its
open file descriptors and the results per second. Run it through scripts/soak.sh.

  soak.py --bin DIR [--seconds 600] [--fault-every 30] [--sample 5] [--senders 3] [--doc FILE] [--json FILE]

Fails (exit status 1) when RSS or descriptors grow beyond the limits between the first and the last window
(a minute each, or a quarter of a shorter run), when a request gets no reply, or when the gateway dies.
"""
import argparse
import multiprocessing
import os
import signal
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as labkit  # noqa: E402
import report  # noqa: E402

# Counters each sender shares: requests written, replies read, results, 200s, maybeDuplicate, other results.
SENT, REPLIES, RESULTS, OK, DUPLICATES = range(5)


def sender(path, body, batch, counters, stop, drain_seconds):
    """Writes `send` requests back to back until `stop` is set, reads and counts every reply."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    written = [0]

    def write():
        index = 0
        try:
            while not stop.is_set():
                sock.sendall(b'{"id":%d,' % index + body)
                index += 1
                written[0] = index
                with counters.get_lock():
                    counters[SENT] += 1
        except OSError:
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    replies, rest = 0, b""
    sock.settimeout(1.0)
    drain_deadline = None
    while True:
        if stop.is_set() and drain_deadline is None:
            drain_deadline = time.monotonic() + drain_seconds
        if drain_deadline is not None and (replies >= written[0] or time.monotonic() > drain_deadline):
            if not writer.is_alive() or time.monotonic() > drain_deadline:
                break
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        ok = dup = results = 0
        for line in lines:
            results += line.count(b'"source"')
            ok += line.count(b'"status":200,')
            dup += line.count(b'"maybeDuplicate"')
        replies += len(lines)
        with counters.get_lock():
            counters[REPLIES] += len(lines)
            counters[RESULTS] += results
            counters[OK] += ok
            counters[DUPLICATES] += dup
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    writer.join(5)
    sock.close()


class Soak:
    def __init__(self, args):
        self.args = args
        self.lab = labkit.Lab(args.bin, keep=args.keep)
        self.samples = []
        self.faults = []
        self.port = labkit.free_port()
        self.mock = None
        self.gateway = None
        self.failures = []
        self.burst_ends = None

    def start_mock(self):
        self.mock = self.lab.start_mock(self.port, name="mock", commands=True)

    def fault(self, number):
        kind = ["server restart (SIGKILL)", "GOAWAY on every connection", "503 burst (3 s)"][number % 3]
        at = time.time()
        if number % 3 == 0:
            self.mock.kill()
            self.start_mock()
        elif number % 3 == 1:
            self.mock.send_line("goaway")
        else:
            self.mock.send_line("faults --status-every 1:503")
            self.burst_ends = at + 3
        self.faults.append({"at": round(at - self.started, 1), "fault": kind})

    def end_burst(self):
        self.burst_ends = None
        if self.mock.alive():
            self.mock.send_line("faults")

    def sample(self, counters):
        now = time.time()
        with counters.get_lock():
            values = list(counters)
        self.samples.append({
            "t": round(now - self.started, 2),
            "rss_mib": round((self.gateway.rss_kib() or 0) / 1024, 1),
            "fds": self.gateway.fd_count(),
            "results": values[RESULTS],
            "ok": values[OK],
            "duplicates": values[DUPLICATES],
            "requests": values[SENT],
            "replies": values[REPLIES],
        })

    def run(self):
        args = self.args
        self.start_mock()
        sock = self.lab.path("gw.sock")
        config = self.lab.write_config(self.port, sock, connections=args.connections, log_level="notice")
        self.gateway = self.lab.start_gateway(config)
        payload = '{"aps":{"alert":{"title":"Score update","body":"' + "x" * 150 + '"},"sound":"default"}}'
        item = '{"token":"%s","payload":%s}' % (labkit.TOKEN, payload)
        body = ('"op":"send","notifications":[' + ",".join([item] * args.batch) + "]}\n").encode()
        counters = multiprocessing.Array("q", 5)
        stop = multiprocessing.Event()
        senders = [multiprocessing.Process(target=sender, args=(sock, body, args.batch, counters, stop, 60), daemon=True)
                   for _ in range(args.senders)]
        self.started = time.time()
        for process in senders:
            process.start()
        next_sample = self.started
        next_fault = self.started + args.fault_every
        faults = 0
        end = self.started + args.seconds
        while time.time() < end:
            if not self.gateway.alive():
                self.failures.append(f"the gateway exited ({self.gateway.process.returncode})")
                break
            now = time.time()
            if now >= next_sample:
                self.sample(counters)
                next_sample += args.sample
            if self.burst_ends and now >= self.burst_ends:
                self.end_burst()
            if now >= next_fault and now + 5 < end:
                self.fault(faults)
                faults += 1
                next_fault += args.fault_every
            wake = min(next_sample, next_fault, end, self.burst_ends or end)
            time.sleep(max(0.0, wake - time.time()))  # pacing: the next sample or fault
        if self.burst_ends:
            self.end_burst()
        stop.set()
        for process in senders:
            process.join(90)
        self.sample(counters)
        with counters.get_lock():
            values = list(counters)
        unanswered = values[SENT] - values[REPLIES]
        if unanswered:
            self.failures.append(f"{unanswered} requests without a reply")
        if self.gateway.alive():
            problem = labkit.accounting_problem(sock)
            if problem:
                self.failures.append(f"the gateway's counters do not add up: {problem}")
        if any(process.is_alive() for process in senders):
            self.failures.append("a sender did not finish (replies missing)")
            for process in senders:
                process.kill()
        return values

    def summary(self, values):
        args = self.args
        samples = self.samples
        window = min(60.0, args.seconds / 4)
        duration = samples[-1]["t"] if samples else 0
        rates = []
        for previous, current in zip(samples, samples[1:]):
            span = current["t"] - previous["t"]
            if span > 0:
                rates.append({"t": current["t"], "rate": (current["results"] - previous["results"]) / span})

        def window_of(items, first):
            if first:
                return [s for s in items if s["t"] <= window]
            return [s for s in items if s["t"] >= duration - window]

        def figures(first):
            chosen = window_of(samples, first)
            chosen_rates = window_of(rates, first)
            return {
                "rss_mib_median": statistics.median(s["rss_mib"] for s in chosen) if chosen else None,
                "rss_mib_max": max(s["rss_mib"] for s in chosen) if chosen else None,
                "fds_median": statistics.median(s["fds"] for s in chosen if s["fds"] is not None) if chosen else None,
                "fds_max": max((s["fds"] for s in chosen if s["fds"] is not None), default=None),
                "pushes_per_second": round(statistics.mean(r["rate"] for r in chosen_rates)) if chosen_rates else None,
            }

        first, last = figures(True), figures(False)
        rss = [s["rss_mib"] for s in samples]
        fds = [s["fds"] for s in samples if s["fds"] is not None]
        result = {
            "seconds": args.seconds,
            "window_seconds": window,
            "first_window": first,
            "last_window": last,
            "rss_mib_min": min(rss), "rss_mib_max": max(rss),
            "fds_min": min(fds), "fds_max": max(fds),
            "pushes_per_second_min": round(min(r["rate"] for r in rates)) if rates else None,
            "pushes_per_second_max": round(max(r["rate"] for r in rates)) if rates else None,
            "pushes_per_second_overall": round(values[RESULTS] / duration) if duration else None,
            "requests": values[SENT], "replies": values[REPLIES], "results": values[RESULTS],
            "ok": values[OK], "maybe_duplicate": values[DUPLICATES],
            "faults": self.faults,
            "limits": {"rss_growth_mib": args.max_rss_growth, "fd_growth": args.max_fd_growth},
            "samples": samples,
        }
        if first["rss_mib_median"] is not None and last["rss_mib_median"] is not None:
            growth = last["rss_mib_median"] - first["rss_mib_median"]
            result["rss_growth_mib"] = round(growth, 1)
            if growth > args.max_rss_growth:
                self.failures.append(f"RSS grew by {growth:.1f} MiB (limit {args.max_rss_growth})")
        if first["fds_max"] is not None and last["fds_max"] is not None:
            growth = last["fds_max"] - first["fds_max"]
            result["fd_growth"] = growth
            if growth > args.max_fd_growth:
                self.failures.append(f"open descriptors grew by {growth} (limit {args.max_fd_growth})")
        result["verdict"] = "PASS" if not self.failures else "FAIL: " + "; ".join(self.failures)
        return result


def soak_text(result, meta):
    first, last = result["first_window"], result["last_window"]
    window = int(result["window_seconds"])
    lines = [
        f"Measured {report.describe_machine(meta)}. {result['seconds']} s, {meta['senders']} sender processes "
        f"writing batches of {meta['batch']} back to back, the gateway with {meta['gateway_connections']} APNs "
        f"connections; a fault every {meta['fault_every']} s in turn (server SIGKILL and restart, GOAWAY on every "
        f"connection, 3 s of 503 for every request); a sample every {meta['sample']} s.",
        "",
        f"| figure | first {window} s | last {window} s | min | max |",
        "|---|---|---|---|---|",
        f"| gateway RSS MiB (median) | {first['rss_mib_median']} | {last['rss_mib_median']} | {result['rss_mib_min']} | {result['rss_mib_max']} |",
        f"| open descriptors (max) | {first['fds_max']} | {last['fds_max']} | {result['fds_min']} | {result['fds_max']} |",
        f"| results/s (mean) | {first['pushes_per_second']} | {last['pushes_per_second']} | {result['pushes_per_second_min']} | {result['pushes_per_second_max']} |",
        "",
        f"Requests {result['requests']}, replies {result['replies']}, results {result['results']} "
        f"({result['ok']} × 200, {result['results'] - result['ok']} other, {result['maybe_duplicate']} marked "
        f"maybeDuplicate), "
        f"{result['pushes_per_second_overall']} results/s overall; {len(result['faults'])} faults. "
        f"RSS growth {result.get('rss_growth_mib')} MiB (limit {result['limits']['rss_growth_mib']}), descriptor "
        f"growth {result.get('fd_growth')} (limit {result['limits']['fd_growth']}). Verdict: **{result['verdict']}**.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--fault-every", type=float, default=30)
    parser.add_argument("--sample", type=float, default=5)
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--max-rss-growth", type=float, default=32.0, help="MiB (default 32)")
    parser.add_argument("--max-fd-growth", type=int, default=16)
    parser.add_argument("--doc")
    parser.add_argument("--json")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    soak = Soak(args)

    def stop(number, _frame):
        soak.lab.close()
        sys.exit(128 + number)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    started = time.time()
    meta = report.machine(started)
    try:
        values = soak.run()
        soak.gateway.stop()
        result = soak.summary(values)
    finally:
        soak.lab.close()
    meta.update({"senders": args.senders, "batch": args.batch, "gateway_connections": args.connections,
                 "fault_every": args.fault_every, "sample": args.sample})
    text = soak_text(result, meta)
    print(text)
    if args.json:
        report.update_json(args.json, "soak", {"meta": meta, "result": result})
    if args.doc:
        report.update_doc(args.doc, "soak", text)
    if result["verdict"] != "PASS":
        print(result["verdict"], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

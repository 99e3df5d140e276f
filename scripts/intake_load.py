#!/usr/bin/env python3
"""Drives a running gateway's intake socket as fast as it takes notifications and reports pushes/s.

  scripts/intake_load.py SOCKET TOKEN [--total N] [--batch B] [--connections C] [--payload BYTES]

Each connection is a sender process of its own (so the senders are not serialised by one interpreter): a
writer thread sends `send` requests back to back (blocking when the gateway applies backpressure) and a
reader thread counts the results and times each request (by its id) from its write to its reply. Prints one JSON line:
pushes/s over the whole run, and the request latency percentiles (a request carries B notifications).
"""
import argparse, json, multiprocessing, socket, threading, time


def sender(path, body, requests, queue):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sent_at = [0.0] * requests

    def write():
        for index in range(requests):
            sent_at[index] = time.monotonic()
            sock.sendall(b'{"id":%d,' % index + body)

    writer = threading.Thread(target=write)
    writer.start()
    replies, ok, latencies, rest = 0, 0, [], b""
    while replies < requests:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        now = time.monotonic()
        ok += chunk.count(b'"status":200')
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            # Each reply starts {"id":N, with the id of its request.
            index = int(line[6:line.index(b",", 6)])
            latencies.append(now - sent_at[index])
            replies += 1
    writer.join()
    sock.close()
    queue.put((replies, ok, latencies))


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("socket")
    parser.add_argument("token")
    parser.add_argument("--total", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--payload", type=int, default=210)
    args = parser.parse_args()

    head, tail = '{"aps":{"alert":{"title":"Score update","body":"', '"},"sound":"default"}}'
    payload = head + "x" * max(0, args.payload - len(head) - len(tail)) + tail
    item = '{"token":"%s","payload":%s}' % (args.token, payload)
    per_connection = max(1, args.total // args.connections // args.batch)
    body = ('"op":"send","notifications":[' + ",".join([item] * args.batch) + "]}\n").encode()

    queue = multiprocessing.Queue()
    senders = [multiprocessing.Process(target=sender, args=(args.socket, body, per_connection, queue))
               for _ in range(args.connections)]
    start = time.monotonic()
    for process in senders:
        process.start()
    outcomes = [queue.get() for _ in senders]
    seconds = time.monotonic() - start
    for process in senders:
        process.join()
    sent = per_connection * args.batch * args.connections
    answered = sum(o[0] for o in outcomes) * args.batch
    ok = sum(o[1] for o in outcomes)
    latencies = sorted(l for o in outcomes for l in o[2])
    print(json.dumps({
        "mode": "gateway", "connections_to_intake": args.connections, "batch": args.batch,
        "payload": args.payload, "notifications": sent, "answered": answered, "ok": ok,
        "seconds": round(seconds, 3), "pushes_per_second": round(sent / seconds),
        "request_p50_ms": round(percentile(latencies, 0.5) * 1000, 3),
        "request_p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "request_p999_ms": round(percentile(latencies, 0.999) * 1000, 3),
    }))


if __name__ == "__main__":
    main()

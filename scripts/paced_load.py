#!/usr/bin/env python3
"""Sends notifications to a running gateway's intake socket at a target rate (not as fast as it takes them).

  scripts/paced_load.py SOCKET TOKEN --rate PUSHES_PER_SECOND --seconds S [--batch B] [--connections C] [--payload BYTES]

Each connection is a sender process of its own with a writer thread that writes one `send` request of B
notifications on a fixed schedule (every C * B / rate seconds, against absolute times: a late write does not
shift the next ones) and a reader thread that counts the replies. Prints one JSON line: the rate asked for, the
rate achieved, how late the writes were (the sender's own lag, which the gateway's figures do not include),
and the request latency percentiles (write -> reply read, per request of B).
"""
import argparse, json, multiprocessing, socket, threading, time

from intake_load import percentile, read_replies  # the same reply reading and percentiles as the unpaced load


def sender(path, body, requests, interval, start_at, queue):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sent_at = [0.0] * requests
    lateness = []

    def write():
        for index in range(requests):
            due = start_at + index * interval
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            now = time.monotonic()
            lateness.append(now - due)
            sent_at[index] = now
            sock.sendall(b'{"id":%d,' % index + body)

    writer = threading.Thread(target=write)
    writer.start()
    replies, ok, latencies = read_replies(sock, requests, sent_at)
    writer.join()
    sock.close()
    queue.put((replies, ok, latencies, lateness))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("socket")
    parser.add_argument("token")
    parser.add_argument("--rate", type=float, required=True, help="notifications per second over all connections")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--payload", type=int, default=210)
    args = parser.parse_args()
    if args.rate <= 0 or args.batch <= 0 or args.connections <= 0:
        raise SystemExit("--rate, --batch and --connections must be positive")

    head, tail = '{"aps":{"alert":{"title":"Score update","body":"', '"},"sound":"default"}}'
    payload = head + "x" * max(0, args.payload - len(head) - len(tail)) + tail
    item = '{"token":"%s","payload":%s}' % (args.token, payload)
    body = ('"op":"send","notifications":[' + ",".join([item] * args.batch) + "]}\n").encode()
    interval = args.connections * args.batch / args.rate
    per_connection = max(1, round(args.seconds / interval))

    queue = multiprocessing.Queue()
    # The connections start a fraction of an interval apart, so that their writes interleave evenly.
    start_at = time.monotonic() + 0.2
    senders = [multiprocessing.Process(target=sender, args=(
        args.socket, body, per_connection, interval, start_at + c * interval / args.connections, queue))
        for c in range(args.connections)]
    for process in senders:
        process.start()
    outcomes = [queue.get() for _ in senders]
    seconds = time.monotonic() - start_at
    for process in senders:
        process.join()
    sent = per_connection * args.batch * args.connections
    latencies = sorted(l for o in outcomes for l in o[2])
    lateness = sorted(l for o in outcomes for l in o[3])
    print(json.dumps({
        "mode": "paced", "connections_to_intake": args.connections, "batch": args.batch, "payload": args.payload,
        "rate_asked": round(args.rate), "notifications": sent,
        "answered": sum(o[0] for o in outcomes) * args.batch, "ok": sum(o[1] for o in outcomes),
        "seconds": round(seconds, 3), "rate_achieved": round(sent / seconds),
        "write_lateness_p50_ms": round(percentile(lateness, 0.5) * 1000, 3),
        "write_lateness_p99_ms": round(percentile(lateness, 0.99) * 1000, 3),
        "request_p50_ms": round(percentile(latencies, 0.5) * 1000, 3),
        "request_p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
    }))


if __name__ == "__main__":
    main()

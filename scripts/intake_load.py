#!/usr/bin/env python3
"""Drives a running gateway's intake socket as fast as it takes notifications and reports pushes/s.

  scripts/intake_load.py SOCKET TOKEN [--total N] [--batch B] [--connections C] [--payload BYTES]
  scripts/intake_load.py HOST:PORT TOKEN --tls --ca CA.pem --auth-token-file FILE [...]

Each connection is a sender process of its own (so the senders are not serialised by one interpreter): a
writer thread sends `send` requests back to back (blocking when the gateway applies backpressure) and a
reader thread counts the results and times each request (by its id) from its write to its reply. Prints one JSON line:
pushes/s over the whole run, and the request latency percentiles (a request carries B notifications).

With --tls the senders connect to the network intake over TCP with TLS (trusting --ca), authenticate with the bearer
token in --auth-token-file (its first line; a file, so that the secret is not on the command line), and then do
the same over one asyncio loop per process (Python's TLS objects are not shared between threads).
"""
import argparse, asyncio, json, multiprocessing, socket, ssl, threading, time


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
    replies, ok, latencies = read_replies(sock, requests, sent_at)
    writer.join()
    sock.close()
    queue.put((replies, ok, latencies))


def read_replies(sock, requests, sent_at):
    """Reads replies until `requests` came (or the gateway closed): how many, how many results were 200, and each
    request's time from its write (`sent_at[id]`) to its reply read."""
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
    return replies, ok, latencies


def tls_sender(address, ca, token, body, requests, queue):
    host, port = address.rsplit(":", 1)
    host = host.strip("[]")

    async def run():
        context = ssl.create_default_context(cafile=ca)
        reader, writer = await asyncio.open_connection(host, int(port), ssl=context, server_hostname="localhost",
                                                       limit=1 << 24)
        writer.write(b'{"id":"auth","op":"auth","token":"%s"}\n' % token.encode())
        reply = await reader.readline()
        if b'"authenticated"' not in reply:
            raise SystemExit("authentication failed: %s" % reply.decode(errors="replace").strip())
        sent_at = [0.0] * requests

        async def write():
            for index in range(requests):
                sent_at[index] = time.monotonic()
                writer.write(b'{"id":%d,' % index + body)
                await writer.drain()

        task = asyncio.ensure_future(write())
        replies, ok, latencies = 0, 0, []
        while replies < requests:
            line = await reader.readline()
            if not line:
                break
            latencies.append(time.monotonic() - sent_at[int(line[6:line.index(b",", 6)])])
            ok += line.count(b'"status":200')
            replies += 1
        await task
        writer.close()
        return replies, ok, latencies

    queue.put(asyncio.run(run()))


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
    parser.add_argument("--tls", action="store_true", help="SOCKET is HOST:PORT of the network intake")
    parser.add_argument("--ca", help="the CA that signed the intake's certificate (with --tls)")
    parser.add_argument("--auth-token-file", help="a file whose first line is the bearer token (with --tls)")
    args = parser.parse_args()

    head, tail = '{"aps":{"alert":{"title":"Score update","body":"', '"},"sound":"default"}}'
    payload = head + "x" * max(0, args.payload - len(head) - len(tail)) + tail
    item = '{"token":"%s","payload":%s}' % (args.token, payload)
    per_connection = max(1, args.total // args.connections // args.batch)
    body = ('"op":"send","notifications":[' + ",".join([item] * args.batch) + "]}\n").encode()

    queue = multiprocessing.Queue()
    if args.tls:
        with open(args.auth_token_file) as file:
            auth_token = file.readline().strip()
        senders = [multiprocessing.Process(target=tls_sender,
                                           args=(args.socket, args.ca, auth_token, body, per_connection, queue))
                   for _ in range(args.connections)]
    else:
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
        "mode": "gateway-tls" if args.tls else "gateway", "connections_to_intake": args.connections, "batch": args.batch,
        "payload": args.payload, "notifications": sent, "answered": answered, "ok": ok,
        "seconds": round(seconds, 3), "pushes_per_second": round(sent / seconds),
        "request_p50_ms": round(percentile(latencies, 0.5) * 1000, 3),
        "request_p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "request_p999_ms": round(percentile(latencies, 0.999) * 1000, 3),
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Drives a running gateway's intake socket as fast as it takes notifications and reports pushes/s.

  scripts/intake_load.py SOCKET TOKEN [--total N] [--batch B] [--connections C] [--payload BYTES]

Each connection has a writer thread that sends `send` requests back to back (blocking when the gateway
applies backpressure) and a reader thread that counts results. Prints one JSON line with the figures.
"""
import argparse, json, socket, threading, time

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
    per_connection = args.total // args.connections // args.batch
    request = ('{"id":1,"op":"send","notifications":[' + ",".join([item] * args.batch) + "]}\n").encode()
    counts = [[0, 0] for _ in range(args.connections)]

    def run(index):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(args.socket)
        def write():
            for _ in range(per_connection):
                sock.sendall(request)
        writer = threading.Thread(target=write)
        writer.start()
        replies = 0
        ok = 0
        while replies < per_connection:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            replies += chunk.count(b"\n")
            ok += chunk.count(b'"status":200')
        writer.join()
        sock.close()
        counts[index] = [replies, ok]

    start = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - start
    sent = per_connection * args.batch * args.connections
    ok = sum(c[1] for c in counts)
    print(json.dumps({"mode": "intake", "connections": args.connections, "batch": args.batch,
                      "payload": args.payload, "notifications": sent, "ok": ok,
                      "seconds": round(seconds, 3), "pushes_per_second": round(sent / seconds)}))

if __name__ == "__main__":
    main()

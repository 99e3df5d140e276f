"""The pieces the fault campaign and the soak share: free ports, the mock APNs and the gateway as child
processes, a feeder that sends notifications through the intake socket, and polling with deadlines.

Every child process is started in a process group of its own and recorded in `Lab.children`, so that
`Lab.close()` (called from `finally` and from the SIGINT/SIGTERM handlers) ends all of them.
"""
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CERTS = os.path.join(ROOT, "certs")
TOKEN = "ab" * 32
KEY_ID, TEAM_ID, BUNDLE_ID = "TESTKEY123", "TEAM123456", "com.example.app"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a true value (returned) or `timeout` seconds pass (raises)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Child:
    """A child process whose standard output is read line by line on a thread (for its readiness line) and
    whose standard error goes to a log file."""

    def __init__(self, lab, name, argv, stdin=False, env=None):
        self.name = name
        self.log_path = os.path.join(lab.work, f"{name}.log")
        self.lines = []
        self.started_at = time.time()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            start_new_session=True, env=env, cwd=lab.work)
        log.close()
        lab.children.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process.poll() is None

    def wait_for_line(self, text, timeout):
        def seen():
            if any(text in line for line in self.lines):
                return True
            if not self.alive():
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}) before printing {text!r}:\n"
                                   + self.log_tail())
            return False
        wait_until(seen, timeout, what=f"{self.name} to print {text!r}")

    def send_line(self, line):
        self.process.stdin.write((line + "\n").encode())
        self.process.stdin.flush()

    def signal(self, number):
        if self.alive():
            try:
                os.kill(self.pid, number)
            except ProcessLookupError:
                pass

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit status."""
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        """SIGKILL, and reap."""
        self.signal(signal.SIGKILL)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def rss_kib(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def fd_count(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return None


class Lab:
    """A work folder, the binaries, and every child process started, for clean-up."""

    def __init__(self, bin_dir, keep=False):
        self.bin = os.path.abspath(bin_dir)
        self.work = tempfile.mkdtemp(prefix="apns-reliability.")
        self.keep = keep
        self.children = []
        self.key = os.path.join(self.work, "key.p8")
        shutil.copy(os.path.join(CERTS, "AuthKey_TESTKEY123.p8"), self.key)
        os.chmod(self.key, 0o600)
        mock_key = os.path.join(self.work, "localhost.key")
        shutil.copy(os.path.join(CERTS, "localhost.key"), mock_key)
        os.chmod(mock_key, 0o600)
        self.mock_cert = os.path.join(CERTS, "localhost.pem")
        self.mock_key = mock_key

    def close(self):
        for child in self.children:
            if child.alive():
                child.kill()
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.work, name)

    # The mock APNs.

    def start_mock(self, port, name="mock", faults=(), record=None, cert=None, key=None, commands=False,
                   wait=True, extra=()):
        argv = [os.path.join(self.bin, "apns-mock"), "--port", str(port),
                "--cert", cert or self.mock_cert, "--key", key or self.mock_key,
                "--provider-key", f"{KEY_ID}:{TEAM_ID}:{os.path.join(CERTS, 'AuthKey_TESTKEY123.pub.pem')}",
                "--bundle-id", BUNDLE_ID, "--no-record", *faults, *extra]
        if record:
            argv += ["--record-file", record]
        if commands:
            argv.append("--commands-on-stdin")
        # The port of a killed mock may still be held for a moment by the kernel: retry the bind.
        mock = None
        for _ in range(50):
            mock = Child(self, name, argv, stdin=commands)
            if not wait:
                return mock
            try:
                mock.wait_for_line("listening", 15)
                mock.listening_at = time.time()
                return mock
            except RuntimeError:
                if "ddress already in use" not in mock.log_tail():
                    raise
                time.sleep(0.1)
        raise RuntimeError(f"apns-mock could not bind port {port}:\n{mock.log_tail()}")

    # The gateway.

    def write_config(self, port, socket_path, name="gateway.json", ca=None, server_name="localhost",
                     connections=2, timeouts=None, max_outstanding=None, log_level="notice", extra=None,
                     reconnect_max=None):
        config = {
            "environment": {"host": "127.0.0.1", "port": port, "serverName": server_name,
                            "caFile": ca or os.path.join(CERTS, "test-ca.pem")},
            "apps": [{"name": "app", "teamId": TEAM_ID, "keyId": KEY_ID, "keyPath": self.key,
                      "bundleId": BUNDLE_ID}],
            "pool": {"connections": connections},
            "intake": {"socketPath": socket_path},
            "logLevel": log_level,
        }
        if max_outstanding:
            config["pool"]["maxOutstanding"] = max_outstanding
        if reconnect_max:
            config["pool"]["reconnectMaxBackoffSeconds"] = reconnect_max
        if timeouts:
            config["timeouts"] = timeouts
        config.update(extra or {})
        path = self.path(name)
        with open(path, "w") as f:
            json.dump(config, f, indent=2)
        return path

    def start_gateway(self, config, name="gateway"):
        gateway = Child(self, name, [os.path.join(self.bin, "apns-gateway"), "serve", "--config", config])
        with open(config) as f:
            gateway.socket_path = json.load(f)["intake"]["socketPath"]
        gateway.wait_for_line("ready", 30)
        gateway.ready_at = time.time()
        return gateway


def gateway_stats(socket_path, timeout=5):
    """The gateway's `stats` reply (its `stats` object), or None."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(socket_path)
            s.sendall(b'{"id":"s","op":"stats"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    return None
                data += chunk
        return json.loads(data).get("stats")
    except (OSError, ValueError):
        return None


def accounting_problem(socket_path):
    """None when the gateway's own counters add up (every accepted notification answered exactly once,
    nothing outstanding), else what does not add up."""
    stats = gateway_stats(socket_path)
    if not stats:
        return "no stats reply"
    for name, app in stats.get("apps", {}).items():
        finished = app["sent"] + app["rejectedLocally"] + app["failedInGateway"]
        if finished != app["accepted"] or app["outstanding"] != 0:
            return (f"app {name}: accepted {app['accepted']}, answered {finished} (sent {app['sent']}, rejected "
                    f"locally {app['rejectedLocally']}, failed in gateway {app['failedInGateway']}), outstanding "
                    f"{app['outstanding']}")
    return None


# The feeder.

def apns_id(prefix, index):
    return f"{prefix}-0000-4000-8000-{index:012x}"


def notification(prefix, index):
    return ('{"token":"%s","apnsId":"%s","payload":{"aps":{"alert":"n%d"}}}'
            % (TOKEN, apns_id(prefix, index), index))


def result_code(result):
    """A short code for one result: `200`, `503`, `gateway:RetriesExhausted`, `local:BadDeviceToken`, with
    `+dup` when it is marked maybeDuplicate."""
    if result.get("source") == "apns":
        code = str(result.get("status"))
    else:
        code = f"{result.get('source')}:{result.get('reason')}"
    return code + ("+dup" if result.get("maybeDuplicate") else "")


def read_replies(sock, count, on_error):
    """Yields (arrival time, reply) for up to `count` reply lines read from `sock`; ends early at end of file or
    at a read error (passed to `on_error`)."""
    rest = b""
    replies = 0
    while replies < count:
        try:
            chunk = sock.recv(1 << 20)
        except OSError as error:
            on_error(f"read: {error}")
            return
        if not chunk:
            return
        now = time.time()
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            replies += 1
            yield now, json.loads(line)


def close_connection(sock, writer):
    """Shuts `sock` down (which unblocks a writer stuck on a connection the gateway no longer reads), waits for
    the writer thread and closes the socket."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    writer.join(10)
    sock.close()


class Connections:
    """What both feeders share: one thread per part (`self.parts`, run by `self._connection`), joined with a
    deadline, and errors collected under `self.lock`."""

    def start(self):
        for part in self.parts:
            thread = threading.Thread(target=self._connection, args=(part,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def wait(self, timeout):
        """Waits up to `timeout` seconds for every connection to finish; returns True when all did."""
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self.threads)

    def _error(self, text):
        with self.lock:
            self.errors.append(text)


class Feed(Connections):
    """Sends `total` notifications, each with its own apns-id, over `connections` intake connections in
    batches, as fast as the gateway takes them (or at `rate` per second), and collects every result.

    `results[i]` is the code of notification i's result (see `result_code`), None while it has none;
    `answered_at[i]` the time its reply arrived. A connection the gateway drops ends that connection's
    part of the feed: its unanswered notifications stay None.
    """

    def __init__(self, socket_path, prefix, total, batch=250, connections=2, rate=0, start_index=0):
        self.socket_path = socket_path
        self.prefix = prefix
        self.total = total
        self.batch = batch
        self.rate = rate
        self.start_index = start_index
        self.results = [None] * total
        self.answered_at = [None] * total
        self.details = {}
        self.sent = 0
        self.answered = 0
        self.requests_sent = 0
        self.requests_unanswered = 0
        # The first index of every batch whose request was written, completely or in part.
        self.attempted = set()
        self.errors = []
        self.lock = threading.Lock()
        self.started = None
        self.finished = None
        batches = [(start, min(batch, total - start)) for start in range(0, total, batch)]
        self.parts = [batches[i::connections] for i in range(connections)]
        self.threads = []
        self.done = threading.Event()

    def start(self):
        self.started = time.time()
        return super().start()

    def _connection(self, batches):
        pending = {}
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.socket_path)
        except OSError as error:
            with self.lock:
                self.errors.append(f"connect: {error}")
                self.requests_unanswered += len(batches)
            return
        written = []

        def write():
            pace = len(self.parts) * self.batch / self.rate if self.rate else 0
            next_at = time.monotonic()
            try:
                for start, count in batches:
                    if pace:
                        delay = next_at - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                        next_at += pace
                    body = ",".join(notification(self.prefix, self.start_index + start + k) for k in range(count))
                    with self.lock:
                        pending[start] = count
                        self.attempted.add(start)
                    sock.sendall(b'{"id":%d,"op":"send","notifications":[%s]}\n' % (start, body.encode()))
                    written.append(start)
                    with self.lock:
                        self.sent += count
                        self.requests_sent += 1
            except OSError as error:
                with self.lock:
                    self.errors.append(f"write: {error}")

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            for now, reply in read_replies(sock, len(batches), self._error):
                start = reply.get("id")
                with self.lock:
                    count = pending.pop(start, 0)
                    if "results" not in reply:
                        self.errors.append(f"error reply: {json.dumps(reply)[:200]}")
                        continue
                    for k, result in enumerate(reply["results"][:count]):
                        code = result_code(result)
                        self.results[start + k] = code
                        self.answered_at[start + k] = now
                        if result.get("detail") and code not in self.details:
                            self.details[code] = result["detail"]
                    self.answered += len(reply["results"])
        finally:
            close_connection(sock, writer)
            with self.lock:
                # Requests written (or being written) without a reply.
                self.requests_unanswered += len(pending)

    def wait(self, timeout):
        done = super().wait(timeout)
        self.finished = time.time()
        return done

    def attempted_indices(self):
        """The notifications whose request was written (completely or in part)."""
        return [start + k for start in sorted(self.attempted) for k in range(min(self.batch, self.total - start))]

    def progress(self):
        with self.lock:
            return self.answered

    def first_answer_after(self, moment, code="200"):
        """The earliest time after `moment` at which a reply brought a result with `code`."""
        times = [t for r, t in zip(self.results, self.answered_at) if t is not None and t >= moment and r == code]
        return min(times) if times else None


class OpFeed(Connections):
    """Sends intake requests (dicts, each with a unique `id`) over `connections` intake connections, at most
    `window` unanswered per connection, and keeps every reply by id. A connection the gateway drops ends that
    connection's part: its unanswered requests stay without a reply (`written` tells which were sent).
    """

    def __init__(self, socket_path, requests, connections=2, window=64):
        self.socket_path = socket_path
        self.requests = requests
        self.window = window
        self.replies = {}
        self.written = set()
        self.errors = []
        self.lock = threading.Lock()
        self.parts = [requests[i::connections] for i in range(connections)]
        self.threads = []

    def _connection(self, requests):
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.socket_path)
        except OSError as error:
            with self.lock:
                self.errors.append(f"connect: {error}")
            return
        room = threading.Semaphore(self.window)
        stop = threading.Event()

        def write():
            try:
                for request in requests:
                    while not room.acquire(timeout=0.2):
                        if stop.is_set():
                            return
                    with self.lock:
                        self.written.add(request["id"])
                    sock.sendall(json.dumps(request, separators=(",", ":")).encode() + b"\n")
            except OSError as error:
                with self.lock:
                    self.errors.append(f"write: {error}")

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            for _, reply in read_replies(sock, len(requests), self._error):
                with self.lock:
                    self.replies[reply.get("id")] = reply
                room.release()
        finally:
            stop.set()
            close_connection(sock, writer)

    def progress(self):
        with self.lock:
            return len(self.replies)

"""A fleet of three gateways on one PostgreSQL registry loses one gateway (SIGKILL) while 10,000 scheduled ends,
all due in the same second, are going out through one apns-mock. Checks, from the mock's record and the store:
every end was sent, none twice unless the store marks it possibly_sent, the dead gateway's claims were taken
over once their lease ran out; prints the figures as one JSON object (exit 1 when a check fails).

Usage: fleet_kill.py BIN_DIR [N] [LEASE_SECONDS]   (see fleet-kill.sh)

The PostgreSQL 15 server (Debian's postgresql) runs as a throw-away cluster in a temporary folder: initdb and
postgres run as the postgres user when this runs as root, listen on a free loopback port, password (SCRAM)
authentication for the gateways' user; everything is stopped and removed at the end.
"""
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reliability"))
import lab as labkit  # noqa: E402
from campaign import read_records  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"


class Cluster:
    """initdb + postgres on a free loopback port; `sql()` runs psql as the superuser."""

    def __init__(self):
        for tool in ("initdb", "postgres"):
            if not os.access(os.path.join(PG_BIN, tool), os.X_OK):
                raise SystemExit(f"{PG_BIN}/{tool} is missing: scripts/install-packages.sh --tests installs postgresql")
        self.folder = tempfile.mkdtemp(prefix="fleet-pg.")
        self.port = labkit.free_port()
        self.super_password = "super-" + uuid.uuid4().hex
        self.password = "gw-" + uuid.uuid4().hex
        self.process = None
        prefix = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            prefix = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        os.chmod(self.folder, 0o700)
        pwfile = os.path.join(self.folder, "super.password")
        with open(pwfile, "w") as f:
            f.write(self.super_password)
        if os.geteuid() == 0:
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        data = os.path.join(self.folder, "data")
        subprocess.run(prefix + [f"{PG_BIN}/initdb", "-D", data, "-U", "postgres", f"--pwfile={pwfile}",
                                 "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8",
                                 "--locale=C", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=120)
        log = open(os.path.join(self.folder, "server.log"), "ab")
        self.process = subprocess.Popen(
            prefix + [f"{PG_BIN}/postgres", "-D", data, "-p", str(self.port), "-k", self.folder,
                      "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "fsync=off",
                      "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            stdout=log, stderr=log, start_new_session=True)
        log.close()
        try:
            labkit.wait_until(lambda: self._ready(), 60, interval=0.1, what="PostgreSQL to accept logins")
            self.sql(f"CREATE ROLE fleet LOGIN PASSWORD '{self.password}'")
            self.sql("CREATE DATABASE fleet OWNER fleet")
        except BaseException:
            self.close()
            raise

    def _ready(self):
        if self.process.poll() is not None:
            raise RuntimeError("postgres exited at start: " + open(os.path.join(self.folder, "server.log")).read())
        return subprocess.run(self._psql("postgres", "SELECT 1"), capture_output=True, timeout=10,
                              env={**os.environ, "PGPASSWORD": self.super_password}).returncode == 0

    def _psql(self, database, sql):
        return ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql]

    def sql(self, sql, database="postgres"):
        result = subprocess.run(self._psql(database, sql), capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PGPASSWORD": self.super_password})
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def close(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def check_feed(feed, what):
    """Raises unless every request got a reply without an error."""
    if not feed.wait(300) or feed.errors:
        raise RuntimeError(f"{what} failed: {feed.errors[:3]}")
    errors = [reply for reply in feed.replies.values() if "error" in reply]
    if len(feed.replies) != len(feed.requests) or errors:
        raise RuntimeError(f"{what}: {len(feed.replies)} replies to {len(feed.requests)} requests, errors {errors[:3]}")


def main():
    bin_dir = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    lease = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    lab = labkit.Lab(bin_dir)
    cluster = None
    try:
        cluster = Cluster()
        password_file = lab.path("pg.password")
        with open(password_file, "w") as f:
            f.write(cluster.password + "\n")
        os.chmod(password_file, 0o600)
        port = labkit.free_port()
        record = lab.path("ends.records")
        mock = lab.start_mock(port, record=record)
        store = {"postgres": {"host": "127.0.0.1", "port": cluster.port, "user": "fleet", "database": "fleet",
                              "passwordFile": password_file, "tls": "disable", "leaseSeconds": lease,
                              "poolSize": 4}}
        gateways = []
        configs = []
        for index in range(3):
            sock = lab.path(f"gw{index}.sock")
            configs.append(lab.write_config(port, sock, name=f"gw{index}.json", extra={
                "liveActivities": {"store": store, "schedulerIntervalSeconds": 0.2}}))
        # All three start together: the schema migration runs once, under the advisory lock.
        started = [labkit.Child(lab, f"gw{i}", [os.path.join(lab.bin, "apns-gateway"), "serve", "--config", configs[i]])
                   for i in range(3)]
        for i, child in enumerate(started):
            child.socket_path = lab.path(f"gw{i}.sock")
            child.wait_for_line("ready", 60)
            gateways.append(child)
        migrations = cluster.sql("SELECT count(*) FROM schema_migrations", "fleet")[0][0]

        tokens = [f"cafe{i:060x}" for i in range(n)]
        feed = labkit.OpFeed(gateways[0].socket_path, [
            {"id": f"r-{i}", "op": "activity.register", "activityId": f"a-{i}", "deviceId": "d", "token": tokens[i]}
            for i in range(n)]).start()
        registering_started = time.time()
        check_feed(feed, "registering")
        registered_in = time.time() - registering_started
        # Scheduling (one insert each, through two gateways) takes less than registering did.
        fire_at = int(time.time()) + max(15, int(registered_in) + 10)
        scheduling_started = time.time()
        feeds = [labkit.OpFeed(gateways[g].socket_path, [
            {"id": f"s-{i}", "op": "activity.schedule_end", "activityId": f"a-{i}", "at": fire_at,
             "scheduleId": f"e-{i}", "contentState": {"over": True}} for i in range(g - 1, n, 2)]).start()
            for g in (1, 2)]
        for feed in feeds:
            check_feed(feed, "scheduling")
        scheduled_at = time.time()
        if scheduled_at >= fire_at:
            raise RuntimeError(f"scheduling took until {scheduled_at - fire_at:.1f} s after the due time: use fewer ends")

        def sent():
            return [r for r in read_records([record], tokens=True) if r[2] == "200" and r[4].startswith("cafe")]

        # Kill gateway 0 once a fifth of the ends are out.
        labkit.wait_until(lambda: len(sent()) >= n // 5, 120, interval=0.01, what="a fifth of the ends")
        victim = gateways[0]
        victim.kill()
        killed_at = time.time()
        sent_at_kill = len(sent())

        def settled():
            rows = cluster.sql("SELECT count(*) FROM scheduled_ends WHERE state IN ('pending', 'firing')", "fleet")
            return int(rows[0][0]) == 0
        labkit.wait_until(settled, 300, interval=0.1, what="every end settled")
        finished_at = time.time()

        records = sent()
        per_token = {}
        for r in records:
            per_token[r[4]] = per_token.get(r[4], 0) + 1
        rows = cluster.sql(
            "SELECT id, state, possibly_sent, claimed_by, claimed_at FROM scheduled_ends ORDER BY id", "fleet")
        ends = {row[0]: row for row in rows}
        pids = {str(g.pid): f"gw{i}" for i, g in enumerate(gateways)}

        def gateway_of(claimer):
            parts = claimer.split("/")
            return pids.get(parts[1], claimer) if len(parts) == 3 else claimer

        states = {}
        per_gateway = {}
        possibly_sent = []
        for row in rows:
            states[row[1]] = states.get(row[1], 0) + 1
            name = gateway_of(row[3])
            per_gateway[name] = per_gateway.get(name, 0) + 1
            if row[2] == "t":
                possibly_sent.append(row)
        exactly_once = sum(1 for i in range(n) if per_token.get(tokens[i], 0) == 1)
        twice = [i for i in range(n) if per_token.get(tokens[i], 0) >= 2]
        lost = [i for i in range(n) if per_token.get(tokens[i], 0) == 0]
        unflagged_duplicates = [i for i in twice if ends[f"e-{i}"][2] != "t"]
        takeover_times = [int(row[4]) for row in possibly_sent]
        figures = {
            "ends": n, "leaseSeconds": lease, "migrationsApplied": int(migrations),
            "registeringSeconds": round(registered_in, 2), "schedulingSeconds": round(scheduled_at - scheduling_started, 2),
            "sentWhenKilled": sent_at_kill, "pushesRecorded": len(records),
            "exactlyOnce": exactly_once, "sentTwice": len(twice), "lost": len(lost),
            "takenOver": len(possibly_sent), "duplicatesNotMarkedPossiblySent": len(unflagged_duplicates),
            "states": states, "finalClaimerCounts": per_gateway,
            "secondsFromKillToAllSettled": round(finished_at - killed_at, 2),
            "takeoverSecondsAfterKill": [min(takeover_times) - int(killed_at), max(takeover_times) - int(killed_at)]
            if takeover_times else None,
        }
        problems = []
        if lost:
            problems.append(f"{len(lost)} ends never reached the mock (e.g. e-{lost[0]})")
        if unflagged_duplicates:
            problems.append(f"{len(unflagged_duplicates)} ends sent twice without possibly_sent")
        if states.get("done", 0) != n:
            problems.append(f"not every end is done: {states}")
        if figures["takeoverSecondsAfterKill"] and figures["takeoverSecondsAfterKill"][1] > lease + 5:
            problems.append(f"a takeover came {figures['takeoverSecondsAfterKill'][1]} s after the kill (lease {lease} s)")
        if int(migrations) != 1:
            problems.append(f"schema_migrations has {migrations} rows")
        figures["problems"] = problems
        figures["loadAverage"] = os.getloadavg()
        print(json.dumps(figures, indent=2))
        for gateway in gateways[1:]:
            gateway.stop()
        mock.stop()
        return 1 if problems else 0
    finally:
        lab.close()
        if cluster:
            cluster.close()


if __name__ == "__main__":
    sys.exit(main())

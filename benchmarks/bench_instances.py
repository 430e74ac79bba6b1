"""Several instances on one PostgreSQL: accepted records/s with 1, 2 and 4 instances against one on SQLite, and failover.

Issue 11 asks for ingest that scales with instances and for the failover time, measured side by side.
Every configuration is real: a throwaway PostgreSQL (fsync on, as bench_store_backends.py starts it),
and ``python app.py --db <url> --port P --instance iN`` processes, each waited for until /api/health
answers. In each round every configuration gets its turn (the order turns between rounds, so drift
in the machine's load hits them alike): a fresh database (or SQLite file) and fresh servers, then
``--seconds`` of single-record POSTs and ``--seconds`` of batch POSTs (``--batch`` records each).

The load comes from two Python client processes (one per core) with ``--clients`` keep-alive
connections in all, spread evenly over the instances (connection j posts to instance j mod N), the
same client for every configuration, so only the number of instances changes. It is Python, not
wrk, because the check at the end needs to know exactly what was accepted: every request a client
sends is waited for, and its 201's ``accepted`` is counted, whereas wrk stops with requests in flight
that the servers may still commit. Records are realistic (benchmarks/_data.py) for the last six days,
oldest first per connection; a connection that runs out wraps around and posts its minutes again
(their counts add, as late records do), so every record stays inside the engine's window.

After each configuration's load the store must hold exactly what was accepted: the sum of
``minute_counts`` equals the sum of the ``count`` of every record answered 201; on PostgreSQL every
ingest-log row must be judged by the leader within ``JUDGE_WAIT_SECONDS``.

Failover: two instances under a light steady load (one connection per instance, about 20 POSTs a
second each); ``kill -9`` of the leader (``role`` in /api/health); the survivor's /api/health is
polled every 50 ms until it says ``"role": "leader"``; the killed one is restarted as a standby;
``--rounds`` times. The store is checked too: what was answered 201 is stored, and at most the
requests cut off by the kill come on top.

Run: python benchmarks/bench_instances.py [--rounds 3] [--seconds 5] [--clients 8] [--batch 500]
     [--skip-failover]
Only 127.0.0.1. Every server and the PostgreSQL it started are stopped on every way out.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402

from benchmarks._data import minute_records  # noqa: E402
from benchmarks._stats import spread  # noqa: E402
from detection.store import decode_counts  # noqa: E402

START_SECONDS = 90  # a cold start of four instances on a loaded 2-core machine
JUDGE_WAIT_SECONDS = 20.0  # the leader's judging of what standbys logged, after the load stops
POOL_MINUTES = 6 * 1440  # records for the last six days: inside the engine's seven-day window
CLIENT_PROCESSES = 2
HEALTH_POLL_SECONDS = 0.05
FAILOVER_RATE = 20.0  # POSTs a second per instance during the failover rounds
FAILOVER_LIMIT_SECONDS = 60.0  # a survivor not leading after this long is a failure, not a figure


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ servers
@dataclass
class Server:
    """One ``python app.py`` process; its output goes to a log file kept in the run's directory."""

    name: str
    db: str
    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> Server:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "app.py", "--db", self.db, "--port", str(self.port), "--instance", self.name],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def health(self, timeout: float = 1.0) -> dict[str, Any] | None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            conn.request("GET", "/api/health")
            response = conn.getresponse()
            body = response.read()
            conn.close()
            return json.loads(body) if response.status == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            return None

    def wait_healthy(self) -> dict[str, Any]:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode} while starting; "
                                   f"see {self.log_path}:\n{self.log_tail()}")
            found = self.health()
            if found is not None:
                return found
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /api/health within {START_SECONDS} s; see {self.log_path}")

    def kill_9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (a standby or leader hands over cleanly), SIGKILL if it does not go within 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill_9()

    def log_errors(self) -> list[str]:
        """Lines of its log at ERROR or CRITICAL, and tracebacks: anything the server itself found wrong."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [f"{self.name}: {line}" for line in lines if " ERROR " in line or " CRITICAL " in line or
                line.startswith("Traceback")]

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start_all(servers: Sequence[Server]) -> None:
    for server in servers:
        server.start()
    for server in servers:
        server.wait_healthy()


# -------------------------------------------------------------------- load
@dataclass
class Payloads:
    """Request bodies, oldest first, with the records and the sum of the counts each holds."""

    bodies: list[bytes]
    records: list[int]
    counts: list[int]


def payloads(records: list[dict], batch: int) -> Payloads:
    if batch == 1:
        return Payloads([json.dumps(r).encode() for r in records], [1] * len(records),
                        [int(r["count"]) for r in records])
    chunks = [records[i:i + batch] for i in range(0, len(records), batch)]
    return Payloads([json.dumps(c).encode() for c in chunks], [len(c) for c in chunks],
                    [sum(int(r["count"]) for r in c) for c in chunks])


@dataclass
class Tally:
    """What one connection (or all of them, summed) sent and what the servers answered."""

    requests: int = 0
    accepted_records: int = 0
    accepted_count: int = 0  # the sum of the ``count`` of every record answered 201
    refused: int = 0  # connection refused: the request never reached a server
    unknown: int = 0  # cut off in flight (a killed server): it may or may not have been stored
    unknown_count: int = 0
    errors: list[str] = field(default_factory=list)  # answers other than 201, and broken connections
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0  # from the common start to this connection's last answer

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.accepted_records += other.accepted_records
        self.accepted_count += other.accepted_count
        self.refused += other.refused
        self.unknown += other.unknown
        self.unknown_count += other.unknown_count
        self.errors = (self.errors + other.errors)[:20]
        self.latencies.extend(other.latencies)
        self.seconds = max(self.seconds, other.seconds)


def post_loop(port: int, data: Payloads, first: int, step: int, start_at: float, stop: threading.Event | float,
              pause: float = 0.0) -> Tally:
    """Post bodies first, first+step, ... (wrapping) to ``port`` from ``start_at`` until ``stop`` (a wall-clock
    deadline or an event), waiting for every answer; ``pause`` seconds between requests (a light load)."""
    tally = Tally()
    headers = {"Content-Type": "application/json"}
    conn: http.client.HTTPConnection | None = None
    i = first
    time.sleep(max(0.0, start_at - time.time()))
    while not (stop.is_set() if isinstance(stop, threading.Event) else time.time() >= stop):
        index = i % len(data.bodies)
        i += step
        tally.requests += 1
        started = time.perf_counter()
        sent = False
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.connect()
            sent = True
            conn.request("POST", "/api/transaction", body=data.bodies[index], headers=headers)
            response = conn.getresponse()
            body = response.read()
        except ConnectionRefusedError:
            tally.refused += 1
            conn = None
            time.sleep(0.05)
            continue
        except (OSError, http.client.HTTPException) as exc:
            if conn is not None:
                conn.close()
            conn = None
            tally.unknown += 1 if sent else 0
            tally.unknown_count += data.counts[index] if sent else 0
            if len(tally.errors) < 20:
                tally.errors.append(f"port {port}: {type(exc).__name__}: {exc}")
            time.sleep(0.05)
            continue
        tally.latencies.append(time.perf_counter() - started)
        tally.seconds = time.time() - start_at
        if response.status == 201:
            accepted = json.loads(body)["accepted"]
            if accepted != data.records[index] and len(tally.errors) < 20:
                tally.errors.append(f"port {port}: 201 with accepted {accepted} for {data.records[index]} records")
            tally.accepted_records += accepted
            tally.accepted_count += data.counts[index]
        elif len(tally.errors) < 20:
            tally.errors.append(f"port {port}: HTTP {response.status}: {body[:300]!r}")
        if pause:
            time.sleep(pause)
    if conn is not None:
        conn.close()
    return tally


def client_process(ports: list[int], data: Payloads, connections: list[int], total: int, start_at: float,
                   stop_at: float, results: Any) -> None:
    """One client process: a thread per connection it owns (connection j posts to ports[j % N])."""
    tallies: dict[int, Tally] = {port: Tally() for port in ports}
    lock = threading.Lock()

    def one(j: int) -> None:
        port = ports[j % len(ports)]
        tally = post_loop(port, data, j, total, start_at, stop_at)
        with lock:
            tallies[port].add(tally)

    threads = [threading.Thread(target=one, args=(j,)) for j in connections]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(tallies)


def run_load(ports: list[int], data: Payloads, clients: int, seconds: float) -> dict[int, Tally]:
    """``clients`` connections from CLIENT_PROCESSES processes, spread evenly over ``ports``, for ``seconds``;
    what each port answered."""
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    start_at = time.time() + 1.0  # every process and thread starts at once
    stop_at = start_at + seconds
    processes = [ctx.Process(target=client_process, daemon=True,
                             args=(ports, data, list(range(p, clients, CLIENT_PROCESSES)), clients, start_at,
                                   stop_at, results))
                 for p in range(min(CLIENT_PROCESSES, clients))]
    for process in processes:
        process.start()
    per_port = {port: Tally() for port in ports}
    for _ in processes:
        for port, tally in results.get(timeout=seconds + 120).items():
            per_port[port].add(tally)
    for process in processes:
        process.join(timeout=30)
    return per_port


def summed(tallies: Sequence[Tally]) -> Tally:
    out = Tally()
    for tally in tallies:
        out.add(tally)
    return out


# ------------------------------------------------------------------- stores
def fresh_pg(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def stored_count(db: str) -> int:
    """The sum of every stored minute count (all feeds and metrics)."""
    if db.startswith("postgresql://"):
        with psycopg.connect(db) as conn:
            row = conn.execute("SELECT COALESCE(SUM(count), 0) FROM minute_counts").fetchone()
            return int(row[0]) if row else 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return sum(sum(decode_counts(text).values()) for (text,) in conn.execute("SELECT counts FROM minute_counts"))


def unjudged_rows(db: str, within: float) -> int:
    """Ingest-log rows no leader judged, once they reach 0 or ``within`` seconds have passed."""
    deadline = time.monotonic() + within
    with psycopg.connect(db, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT COUNT(*) FROM ingest_log WHERE NOT judged").fetchone()
            left = int(row[0]) if row else 0
            if left == 0 or time.monotonic() >= deadline:
                return left
            time.sleep(0.2)


# ----------------------------------------------------------- configurations
def role_of(server: Server) -> str | None:
    found = server.health()
    return None if found is None else str(found.get("role"))


@dataclass(frozen=True)
class Config:
    label: str
    instances: int
    postgres: bool


CONFIGS = (Config("SQLite x1", 1, False), Config("PostgreSQL x1", 1, True),
           Config("PostgreSQL x2", 2, True), Config("PostgreSQL x4", 4, True))
BASE = "PostgreSQL x1"


@dataclass
class PhaseResult:
    single: Tally
    batch: Tally
    stored: int
    unjudged: int
    # The same load split by the role of the instance that took it: a standby's answer waits for the leader.
    by_role: dict[tuple[str, str], Tally]
    log_errors: list[str]


def measure(config: Config, round_: int, admin: str, directory: Path, singles: Payloads, batches: Payloads,
            args: argparse.Namespace, live: list[Server]) -> PhaseResult:
    """Fresh store and servers for ``config``; single-record load, batch load, then the store's check."""
    slug = config.label.lower().replace(" ", "_")
    if config.postgres:
        db = fresh_pg(admin, f"bench_{slug}_{round_}")
    else:
        db = str(directory / f"{slug}_{round_}.db")
    servers = [Server(f"i{n + 1}", db, free_port(), directory / f"{slug}_{round_}_i{n + 1}.log")
               for n in range(config.instances)]
    live.extend(servers)
    try:
        start_all(servers)
        ports = [s.port for s in servers]
        roles = {s.port: role_of(s) or "unknown" for s in servers}
        single = run_load(ports, singles, args.clients, args.seconds)
        batch = run_load(ports, batches, args.clients, args.seconds)
        unjudged = unjudged_rows(db, JUDGE_WAIT_SECONDS) if config.postgres else 0
    finally:
        for server in servers:
            server.stop()
            live.remove(server)
    by_role: dict[tuple[str, str], Tally] = {}
    for kind, per_port in (("single", single), ("batch", batch)):
        for port, tally in per_port.items():
            by_role.setdefault((kind, roles[port]), Tally()).add(tally)
    log_errors = [line for server in servers for line in server.log_errors()]
    return PhaseResult(summed(list(single.values())), summed(list(batch.values())), stored_count(db), unjudged, by_role,
                       log_errors)


# ------------------------------------------------------------------ failover
@dataclass
class FailoverResult:
    seconds: list[float]
    tally: Tally
    stored: int
    unjudged: int
    survivor_errors: list[str]
    survivor_max_latency: float
    log_errors: list[str]


def failover(admin: str, directory: Path, singles: Payloads, rounds: int, live: list[Server]) -> FailoverResult:
    db = fresh_pg(admin, "bench_failover")
    servers = [Server(f"i{n + 1}", db, free_port(), directory / f"failover_i{n + 1}.log") for n in range(2)]
    live.extend(servers)
    stop = threading.Event()
    tallies: dict[int, Tally] = {}
    loaders: list[threading.Thread] = []
    try:
        start_all(servers)
        # A light steady load on both instances, one connection each, through every kill and restart.
        for n, server in enumerate(servers):
            def load(n: int = n, port: int = server.port) -> None:
                tallies[n] = post_loop(port, singles, n, 2, time.time(), stop, pause=1 / FAILOVER_RATE)
            loaders.append(threading.Thread(target=load))
        for thread in loaders:
            thread.start()
        time.sleep(2.0)
        seconds: list[float] = []
        for _ in range(rounds):
            roles = {s.name: role_of(s) for s in servers}
            leaders = [s for s in servers if roles[s.name] == "leader"]
            if len(leaders) != 1:
                raise RuntimeError(f"expected exactly one leader before a kill, found roles {roles}")
            leader = leaders[0]
            survivor = next(s for s in servers if s is not leader)
            killed_at = time.monotonic()
            leader.kill_9()
            while role_of(survivor) != "leader":
                if time.monotonic() - killed_at > FAILOVER_LIMIT_SECONDS:
                    raise RuntimeError(f"{survivor.name} did not lead within {FAILOVER_LIMIT_SECONDS} s of the "
                                       f"kill; see {survivor.log_path}")
                time.sleep(HEALTH_POLL_SECONDS)
            seconds.append(time.monotonic() - killed_at)
            leader.start()  # the same name and port, now a standby
            if leader.wait_healthy().get("role") != "standby":
                raise RuntimeError(f"{leader.name}, restarted, does not stand by: {leader.health()}")
            time.sleep(2.0)  # steady load again before the next kill
    finally:
        stop.set()
        for thread in loaders:
            thread.join(timeout=60)
        for server in servers:
            server.stop()
            live.remove(server)
    total = summed(list(tallies.values()))
    # Answers other than 201 from an instance that was up: the connection errors of the killed one are expected.
    survivor_errors = [e for e in total.errors if "HTTP" in e or "accepted" in e]
    return FailoverResult(seconds, total, stored_count(db), unjudged_rows(db, JUDGE_WAIT_SECONDS), survivor_errors,
                          max(total.latencies, default=0.0), [line for s in servers for line in s.log_errors()])


# -------------------------------------------------------------------- report
def loadavg() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds (configurations interleaved), and failover kills")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per load phase")
    parser.add_argument("--clients", type=int, default=8, help="keep-alive connections in all, spread over the instances")
    parser.add_argument("--batch", type=int, default=500, help="records per batch POST")
    parser.add_argument("--skip-failover", action="store_true")
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0 or args.clients < 4 or args.batch < 2:
        parser.error("--rounds >= 1, --seconds > 0, --clients >= 4 (one for each of 4 instances), --batch >= 2")

    now_minute = int(time.time() // 60)
    statuses, _auth = minute_records(now_minute - POOL_MINUTES - 10, POOL_MINUTES, seed=11)
    records = [r for minute in statuses for r in minute]
    singles, batches = payloads(records, 1), payloads(records, args.batch)

    from pg_support import PostgresServer  # the tests' throwaway server

    # A SIGTERM (a timeout, an operator) ends the run through the finally below, which stops every server and
    # PostgreSQL; Python's default would end it at once and leave them running.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = time.monotonic()
    loads = [loadavg()]
    pg = PostgresServer(fsync=True)
    live: list[Server] = []
    results: dict[str, list[PhaseResult]] = {c.label: [] for c in CONFIGS}
    fail: FailoverResult | None = None
    with tempfile.TemporaryDirectory(prefix="bench-instances-") as tmp:
        directory = Path(tmp)
        try:
            pg.start()
            admin = pg.url()
            for round_ in range(args.rounds):
                turn = round_ % len(CONFIGS)
                for config in CONFIGS[turn:] + CONFIGS[:turn]:
                    results[config.label].append(measure(config, round_, admin, directory, singles, batches, args, live))
                    print(f"  round {round_ + 1} {config.label}: done ({time.monotonic() - started:.0f} s, "
                          f"load {loadavg()})", flush=True)
                loads.append(loadavg())
            if not args.skip_failover:
                fail = failover(admin, directory, singles, args.rounds, live)
                loads.append(loadavg())
        except BaseException:
            for server in live:
                print(f"--- {server.name} ({server.log_path.name}) log tail:\n{server.log_tail()}", file=sys.stderr)
            raise
        finally:
            for server in list(live):
                server.kill_9()
            pg.stop()
    return report(args, results, fail, loads, time.monotonic() - started)


def report(args: argparse.Namespace, results: dict[str, list[PhaseResult]], fail: FailoverResult | None,
           loads: list[str], elapsed: float) -> int:
    ok = True
    print(f"\nseveral instances on one PostgreSQL (15, fsync on) against one on SQLite (file, synchronous=normal); "
          f"{args.rounds} rounds, configurations interleaved, {args.seconds:g} s per load phase; {args.clients} "
          f"keep-alive connections in all from {CLIENT_PROCESSES} Python client processes, spread evenly over the "
          f"instances; {os.cpu_count()} cores; load average (1/5/15 min) over the run: {', '.join(loads)}")
    for kind, what in (("single", "single-record POSTs"), ("batch", f"batch POSTs of {args.batch} records")):
        print(f"\n{what}: accepted records/s, median (min-max over rounds); ratio to {BASE} per round")
        print(f"  {'configuration':15} {'records/s':44} {'ratio to ' + BASE:40} p50 / p99 latency")
        base = [getattr(r, kind).accepted_records / getattr(r, kind).seconds for r in results[BASE]]
        for label, runs in results.items():
            tallies = [getattr(r, kind) for r in runs]
            rates = [t.accepted_records / t.seconds for t in tallies]
            ratios = [a / b for a, b in zip(rates, base, strict=True)]
            latencies = sorted(x for t in tallies for x in t.latencies)
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000
            print(f"  {label:15} {spread(rates, over='rounds'):44} {spread(ratios, '.2f', 'rounds'):40} "
                  f"{p50:.1f} / {p99:.1f} ms")
    print("\nsplit by the role of the instance that took the load (all rounds; a standby's answer waits for the "
          "leader's judging):")
    for config in CONFIGS:
        label, runs = config.label, results[config.label]
        if not config.postgres or config.instances == 1:
            continue
        for kind in ("single", "batch"):
            parts = []
            for role in ("leader", "standby"):
                tallies = [r.by_role[(kind, role)] for r in runs if (kind, role) in r.by_role]
                if not tallies:
                    continue
                rates = [t.accepted_records / t.seconds for t in tallies if t.seconds]
                latencies = [x for t in tallies for x in t.latencies]
                who = "the leader" if role == "leader" else f"{config.instances - 1} standby(s) together"
                parts.append(f"{who}: median {statistics.median(rates):,.0f} records/s, "
                             f"p50 {statistics.median(latencies) * 1000:.1f} ms")
            print(f"  {label:15} {kind:6}: " + "; ".join(parts))
    print("\nthe store against what was accepted (per configuration and round):")
    for label, runs in results.items():
        for n, r in enumerate(runs, 1):
            accepted = r.single.accepted_count + r.batch.accepted_count
            errors = r.single.errors + r.batch.errors
            good = (r.stored == accepted and r.unjudged == 0 and not errors and not r.log_errors
                    and not (r.single.unknown + r.batch.unknown))
            ok = ok and good
            print(f"  {label:15} round {n}: {r.single.accepted_records + r.batch.accepted_records:,} records "
                  f"accepted, counts accepted {accepted:,}, stored {r.stored:,}, unjudged log rows {r.unjudged}, "
                  f"failed requests {len(errors)}, server log errors {len(r.log_errors)}: {'OK' if good else 'MISMATCH'}")
            for error in (errors + r.log_errors)[:8]:
                print(f"      {error}")
    if fail is not None:
        t = fail.tally
        low, high = t.accepted_count, t.accepted_count + t.unknown_count
        good = low <= fail.stored <= high and fail.unjudged == 0 and not fail.survivor_errors and not fail.log_errors
        ok = ok and good
        print(f"\nfailover (2 instances, {FAILOVER_RATE:g} POSTs/s to each, kill -9 of the leader, the survivor's "
              f"/api/health polled every {HEALTH_POLL_SECONDS * 1000:.0f} ms): seconds until it answers "
              f"\"role\": \"leader\": median {statistics.median(fail.seconds):.2f}, max {max(fail.seconds):.2f} "
              f"(each: {', '.join(f'{s:.2f}' for s in fail.seconds)})")
        print(f"  {t.requests:,} requests: {t.accepted_records:,} answered 201, {t.refused} refused while an "
              f"instance was down, {t.unknown} cut off by a kill; slowest answer {fail.survivor_max_latency:.2f} s; "
              f"stored counts {fail.stored:,} in [{low:,}, {high:,}], unjudged log rows {fail.unjudged}, "
              f"server log errors {len(fail.log_errors)}: {'OK' if good else 'MISMATCH'}")
        for error in (fail.survivor_errors + fail.log_errors)[:8]:
            print(f"      {error}")
    print(f"\nwhole run {elapsed:.0f} s; {'every check passed' if ok else 'A CHECK FAILED (see above)'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""In-process cost of one single-record POST /api/transaction: the WSGI app of ``create_app`` called directly.

The HTTP benchmark (bench_http.py) is the figure the README's target is on, but on a shared 2-core machine
its rounds move by 20 % or more. This one takes the server and the network out: the app exactly as
``python app.py`` builds it (file store, built-in rules, compression, metrics, every hook), called with the
WSGI environ waitress would hand it, one record per request, and the time of each request. (Flask's test
client spends about 150 us building each request, as much as the route itself, which blurs a comparison.)
The mean per request is what a server's throughput sees (1 / mean); the median leaves out the requests that
close a minute and judge the rules. With ``--baseline`` another checkout is measured side
by side: in each round one process per checkout, back to back, the order alternating, on the same
payloads (generated here, once, and handed to both), so a burst of load hits both sides of a round alike.
``--profile`` runs one side under cProfile instead and prints where its time goes.

Run: python benchmarks/bench_post.py [--requests 3000] [--code DIR] [--baseline CHECKOUT [--rounds 7]] [--profile]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = str(Path(__file__).resolve().parents[1])
# The code measured: this checkout, or (for --baseline's other side) the one named in BENCH_CODE.
sys.path.insert(0, os.environ.get("BENCH_CODE") or HERE)

WARM_UP = 300  # requests before timing: imports, first minutes, the store's first pages


def payloads(count: int, seed: int) -> list[str]:
    """Single records for consecutive recent minutes, oldest first, as bench_http.py posts them."""
    sys.path.insert(0, HERE)  # the generator of this checkout, so both sides get the same bodies
    from benchmarks.bench_http import bodies

    return [b.decode() for b in bodies(count, 1, seed)]


def environ(body: bytes) -> dict:
    """What waitress hands the app for a POST from bench_http.py's client (http.client, keep-alive)."""
    return {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/api/transaction", "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8080", "HTTP_ACCEPT_ENCODING": "identity", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True, "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }


def one_side(bodies: list[str], profile: bool) -> dict[str, float]:
    """Post every body through a fresh app on a file store; per-request times in microseconds."""
    logging.disable(logging.WARNING)  # alert log lines are not what is measured
    from app import AppConfig, create_app

    with tempfile.TemporaryDirectory() as directory:
        app = create_app(AppConfig(db=str(Path(directory) / "bench.db")))
        server = app.server
        statuses: list[str] = []

        def start_response(status: str, headers: list, exc_info: object = None) -> None:
            statuses.append(status)

        def post(body: str) -> None:
            answer = server(environ(body.encode()), start_response)
            text = b"".join(answer)
            if hasattr(answer, "close"):
                answer.close()
            if not statuses.pop().startswith("201"):
                raise RuntimeError(f"not accepted: {text[:200]!r}")

        for body in bodies[:WARM_UP]:
            post(body)
        timed = bodies[WARM_UP:]
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for body in timed:
                post(body)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("tottime").print_stats(30)
            stats.sort_stats("cumulative").print_stats(45)
            return {}
        times = []
        for body in timed:
            started = time.perf_counter()
            post(body)
            times.append((time.perf_counter() - started) * 1e6)
        server.extensions["monitor"].store.close()
    return {"median_us": statistics.median(times), "mean_us": statistics.fmean(times),
            "p90_us": statistics.quantiles(times, n=10)[-1]}


def measured(code: str, bodies_file: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--one-side", bodies_file],
        env={**os.environ, "BENCH_CODE": code}, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the side for {code} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="timed single-record requests per side and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", help="another checkout to measure side by side with this one")
    parser.add_argument("--profile", action="store_true", help="cProfile one side (this checkout, or --code)")
    parser.add_argument("--code", help="the checkout measured (and profiled) instead of this one")
    parser.add_argument("--one-side", metavar="BODIES", help=argparse.SUPPRESS)  # a child: one side of a round
    args = parser.parse_args()

    if args.one_side:
        bodies = json.loads(Path(args.one_side).read_text())
        print(json.dumps(one_side(bodies, profile=args.profile)))
        return
    bodies = payloads(args.requests + WARM_UP, args.seed)
    if args.profile:
        with tempfile.TemporaryDirectory() as directory:
            bodies_file = Path(directory) / "bodies.json"
            bodies_file.write_text(json.dumps(bodies))
            code = str(Path(args.code).resolve()) if args.code else HERE
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one-side", str(bodies_file), "--profile"],
                           env={**os.environ, "BENCH_CODE": code}, check=True)
        return

    measured_code = str(Path(args.code).resolve()) if args.code else HERE
    sides = [("this checkout" if not args.code else measured_code, measured_code)] + ([(f"baseline {Path(args.baseline).resolve()}", str(Path(args.baseline).resolve()))]
                                         if args.baseline else [])
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in sides}
    with tempfile.TemporaryDirectory() as directory:
        bodies_file = str(Path(directory) / "bodies.json")
        Path(bodies_file).write_text(json.dumps(bodies))
        for round_ in range(args.rounds):
            for name, code in sides if round_ % 2 == 0 else sides[::-1]:
                results[name].append(measured(code, bodies_file))
    from benchmarks._stats import spread

    print(f"single-record POST /api/transaction, the WSGI app of create_app called in-process (file store), "
          f"{args.requests} timed requests after {WARM_UP} warm-up, {args.rounds} rounds, one process per side and round")
    for name, runs in results.items():
        print(f"  {name}: mean per request {spread([r['mean_us'] for r in runs], '.0f', 'rounds')} us; "
              f"median per request {spread([r['median_us'] for r in runs], '.0f', 'rounds')} us")
    if args.baseline:
        ours, theirs = (results[name] for name, _ in sides)
        for figure in ("mean", "median"):
            ratios = [a[f"{figure}_us"] / b[f"{figure}_us"] for a, b in zip(ours, theirs, strict=True)]
            print(f"  time this/baseline per round, {figure}s (below 1: faster): {spread(ratios, '.2f', 'rounds')}")


if __name__ == "__main__":
    main()

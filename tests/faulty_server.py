"""Test-only launcher: the real app and waitress server over a FaultyStore.

python -m tests.faulty_server --db FILE --port N --fail-minute M --hold-minute H --release-file PATH
A batch touching minute H waits for PATH to exist; a change touching minute M raises RuntimeError
after BEGIN. Everything else is the production app (app.create_app, app.serve).
"""

from __future__ import annotations

import argparse
import logging

from app import AppConfig, create_app, serve
from detection import Monitor, MonitorSettings, load_thresholds
from tests.faulty_store import FaultyStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fail-minute", type=int, action="append", default=[])
    parser.add_argument("--hold-minute", type=int, action="append", default=[])
    parser.add_argument("--release-file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    config = AppConfig(db=args.db, port=args.port)
    store = FaultyStore(args.db, fail_minutes=args.fail_minute, hold_minutes=args.hold_minute, release_file=args.release_file)
    monitor = Monitor(load_thresholds(), store, MonitorSettings())
    serve(create_app(config, monitor=monitor), config)


if __name__ == "__main__":
    main()

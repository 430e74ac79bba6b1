"""Composition root: read configuration, build the one Monitor, the Dash app and its REST API, and serve them.

``create_app(config)`` is the app factory (tests call it with their own config);
``python app.py`` serves it with waitress on http://127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from dash import Dash

from api import ApiSettings, register_api, register_metrics, register_notifications
from callbacks import register_callbacks
from callbacks.layout import dashboard_layout
from components.vendor import ASSETS_IGNORE, serve_bootstrap, serve_plotly_basic
from detection import Alert, ConfigError, Monitor, MonitorSettings, Store, StoreError, load_thresholds
from detection import __version__ as VERSION
from detection.delivery import Delivery
from detection.notify_config import load_notification_config
from detection.silences import Silences
from detection.ticker import Ticker
from feeds.demo import FeedRunner, FeedWriter
from feeds.replay import ReplayError, ReplaySource

log = logging.getLogger("monitor")


@dataclass(frozen=True)
class AppConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    db: str = "monitor.db"
    db_sync: str = "normal"
    thresholds: str | None = None
    api_token: str | None = None
    window_days: float = 7.0
    retention_days: float = 30.0
    refresh_ms: int = 5000
    tick_seconds: float = 5.0
    threads: int = 8
    title: str = "Transaction monitor"
    demo: bool = False
    # Notifications: a JSON file of channels and timings; MONITOR_WEBHOOK_URL, MONITOR_SLACK_WEBHOOK_URL,
    # MONITOR_SMTP_* add channels; secrets are read from ``notify_environ`` (the process environment).
    notifications: str | None = None
    notify_environ: Mapping[str, str] | None = field(default=None, repr=False, compare=False)
    # Demo and replay feeds (python app.py --demo | --replay CSV [--auth-codes CSV] [--speed N])
    replay: str | None = None
    auth_codes_csv: str | None = None
    speed: float | None = None  # streamed minutes per wall-clock minute; 0 = as fast as possible
    simulate: bool = False  # dashboard simulate buttons write synthetic minutes; always on in demo mode


# Environment variable for each setting that can come from the environment.
ENVIRONMENT = {
    "host": "MONITOR_HOST",
    "port": "MONITOR_PORT",
    "db": "MONITOR_DB",
    "db_sync": "MONITOR_DB_SYNC",
    "thresholds": "MONITOR_THRESHOLDS",
    "api_token": "MONITOR_API_TOKEN",
    "window_days": "MONITOR_WINDOW_DAYS",
    "retention_days": "MONITOR_RETENTION_DAYS",
    "refresh_ms": "MONITOR_REFRESH_MS",
    "threads": "MONITOR_THREADS",
    "notifications": "MONITOR_NOTIFICATIONS",
    "simulate": "MONITOR_SIMULATE",
}


def _coerce(name: str, raw: Any, source: str) -> Any:
    kind = {f.name: f.type for f in fields(AppConfig)}[name]
    if raw is None or not isinstance(raw, str):
        return raw
    try:
        if kind == "int":
            value: Any = int(raw)
        elif kind == "float":
            value = float(raw)
        elif kind == "bool":
            value = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            return raw or None if kind.startswith("str |") else raw
    except ValueError:
        raise ConfigError(f"{source}: expected {'an integer' if kind == 'int' else 'a number'}, got {raw!r}") from None
    return value


def config_from(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> AppConfig:
    """Defaults, then environment variables, then command-line flags."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, var in ENVIRONMENT.items():
        if var in environ:
            values[name] = _coerce(name, environ[var], var)
    parser = argparse.ArgumentParser(prog="python app.py", description="Real-time transaction monitor")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1; MONITOR_HOST)")
    parser.add_argument("--port", help="port (default 8080; MONITOR_PORT)")
    parser.add_argument("--db", help="SQLite file, or :memory: (default monitor.db; MONITOR_DB)")
    parser.add_argument("--thresholds", help="thresholds JSON file (default: built-in; MONITOR_THRESHOLDS)")
    parser.add_argument("--notifications", help="notification channels JSON file (MONITOR_NOTIFICATIONS)")
    add_feed_arguments(parser)
    args = parser.parse_args(argv)
    values["notify_environ"] = dict(environ)
    for name in ("host", "port", "db", "thresholds", "notifications"):
        raw = getattr(args, name)
        if raw is not None:
            values[name] = _coerce(name, raw, f"--{name}")
    values.update(feed_values(args, values))
    config = replace(AppConfig(), **values)
    validate_config(config)
    return config


def add_feed_arguments(parser: argparse.ArgumentParser) -> None:
    feed = parser.add_mutually_exclusive_group()
    feed.add_argument("--demo", action="store_true",
                      help="backfill 24 h of synthetic history and stream live synthetic minutes (store: memory unless --db)")
    feed.add_argument("--replay", metavar="CSV", help="replay a transactions.csv export through the ingestion path")
    parser.add_argument("--auth-codes", metavar="CSV", help="with --replay: the matching transactions_auth_codes.csv")
    parser.add_argument("--speed", metavar="N",
                        help="streamed minutes per wall-clock minute (default: demo 20, replay 60; 0 = no pause)")


def feed_values(args: argparse.Namespace, values: Mapping[str, Any]) -> dict[str, Any]:
    """The demo/replay settings; a demo never writes into the default store file unless --db says so."""
    out: dict[str, Any] = {}
    if args.demo:
        out["demo"] = True
        if "db" not in values:
            out["db"] = ":memory:"
    if args.replay is not None:
        out["replay"] = args.replay
    if args.auth_codes is not None:
        if args.replay is None:
            raise ConfigError("--auth-codes: only used with --replay")
        out["auth_codes_csv"] = args.auth_codes
    if args.speed is not None:
        try:
            out["speed"] = float(args.speed)
        except ValueError:
            raise ConfigError(f"--speed: expected a number of minutes per minute, got {args.speed!r}") from None
    return out


def validate_config(config: AppConfig) -> None:
    if not 0 < config.port < 65536:
        raise ConfigError(f"port: expected 1 to 65535, got {config.port}")
    if config.window_days * 1440 < 60:
        raise ConfigError(f"window_days: expected at least one hour (0.042), got {config.window_days}")
    if config.retention_days < config.window_days:
        raise ConfigError(f"retention_days ({config.retention_days}) must be at least window_days ({config.window_days})")
    if config.db_sync.lower() not in ("normal", "full", "off"):
        raise ConfigError(f"db_sync: expected normal, full or off, got {config.db_sync!r}")
    if config.refresh_ms < 250:
        raise ConfigError(f"refresh_ms: expected at least 250, got {config.refresh_ms}")
    if config.speed is not None and not 0 <= config.speed <= 100_000:
        raise ConfigError(f"speed: expected 0 to 100000 minutes per minute, got {config.speed}")


def build_monitor(config: AppConfig) -> Monitor:
    thresholds = load_thresholds(config.thresholds)
    store = Store(config.db, synchronous=config.db_sync)
    settings = MonitorSettings(
        window_minutes=int(config.window_days * 1440),
        retention_minutes=int(config.retention_days * 1440),
    )
    return Monitor(thresholds, store, settings)


def build_delivery(config: AppConfig, monitor: Monitor) -> tuple[Delivery, Silences]:
    """Channels from the notifications file and environment; the worker listens to the Monitor but only
    sends once started (a reconcile at start picks up what was committed before)."""
    notify = load_notification_config(config.notifications, config.notify_environ or {})
    silences = Silences(monitor.store)
    dashboard = notify.dashboard_url or f"http://{config.host}:{config.port}/"
    delivery = Delivery(monitor.store, notify.channels, notify.settings, silences, dashboard)
    monitor.add_listener(delivery.listener)
    return delivery, silences


def create_app(config: AppConfig | Mapping[str, Any] | None = None, monitor: Monitor | None = None) -> Dash:
    """The app factory: one Monitor, handed to the REST API and the callbacks."""
    if config is None:
        config = AppConfig()
    elif not isinstance(config, AppConfig):
        config = replace(AppConfig(), **dict(config))
    validate_config(config)
    monitor = monitor if monitor is not None else build_monitor(config)

    app = Dash(__name__, title=config.title, serve_locally=True, update_title=None, assets_ignore=ASSETS_IGNORE)
    server = app.server
    app.config.external_stylesheets = [serve_bootstrap(server)]  # served from the installed package, no CDN
    serve_plotly_basic(server)  # the basic Plotly bundle: a first page load in half the time
    mode = "DEMO" if config.demo else "REPLAY" if config.replay else None
    simulate = config.simulate or config.demo  # nothing synthetic unless asked for
    app.layout = dashboard_layout(monitor, config.title, config.refresh_ms, mode=mode, simulate=simulate,
                                  base_url=f"http://{config.host}:{config.port}", token_required=bool(config.api_token))
    server.extensions["monitor"] = monitor
    server.extensions["monitor_config"] = config
    delivery, silences = build_delivery(config, monitor)
    server.extensions["delivery"] = delivery  # started by serve(), or by a test
    server.extensions["silences"] = silences
    def alert_marks(alert: Alert) -> dict[str, Any]:
        return {"silenced": silences.is_silenced(alert)}

    ingest_metrics = register_metrics(server, monitor, delivery, silences)
    register_api(server, monitor, ApiSettings(
        api_token=config.api_token, version=VERSION, store_path=config.db, alert_marks=alert_marks,
        observe_ingest=ingest_metrics.observe,
    ))
    register_notifications(server, delivery, silences, config.api_token)
    # One writer for the simulate buttons and the demo/replay feed, so they never post the same minute.
    writer = server.extensions["feed_writer"] = FeedWriter(monitor)
    register_callbacks(app, monitor, writer if simulate else None, alert_marks)
    return app


def read_replay(app: Dash, config: AppConfig) -> ReplaySource | None:
    """The --replay exports, read and checked before serving: a bad file is an error message, not a dead thread."""
    if not config.replay:
        return None
    thresholds = app.server.extensions["monitor"].thresholds
    return ReplaySource(config.replay, config.auth_codes_csv, thresholds.statuses, thresholds.auth_codes)


def start_feed(app: Dash, config: AppConfig, replay: ReplaySource | None = None) -> FeedRunner | None:
    """The demo or replay feed thread, if asked for (never at import, never from create_app)."""
    writer: FeedWriter = app.server.extensions["feed_writer"]
    if config.demo:
        writer.backfill()
        return FeedRunner(writer, 20.0 if config.speed is None else config.speed).start()
    if config.replay:
        source = replay if replay is not None else read_replay(app, config)
        log.info("replay: %d minutes from %s", len(source.minutes), config.replay)
        return FeedRunner(writer, 60.0 if config.speed is None else config.speed, replay=source).start()
    return None


def serve(app: Dash, config: AppConfig, replay: ReplaySource | None = None) -> None:
    from waitress import serve as waitress_serve

    monitor: Monitor = app.server.extensions["monitor"]
    ticker = Ticker(monitor, config.tick_seconds).start()
    delivery: Delivery = app.server.extensions["delivery"]
    delivery.start()
    feed = start_feed(app, config, replay)
    log.info("transaction monitor %s on http://%s:%d (store %s)", VERSION, config.host, config.port, config.db)
    try:
        waitress_serve(app.server, host=config.host, port=config.port, threads=config.threads, ident="monitor")
    finally:
        if feed is not None:
            feed.stop()
        ticker.stop()
        delivery.stop()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from(argv)
        app = create_app(config)
        replay = read_replay(app, config)
    except (ConfigError, StoreError, ReplayError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    serve(app, config, replay)
    return 0


if __name__ == "__main__":
    sys.exit(main())

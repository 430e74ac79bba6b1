"""Composition root: read configuration, build the one Monitor, the Dash app and its REST API, and serve them.

``create_app(config)`` is the app factory (tests call it with their own config);
``python app.py`` serves it with waitress on http://127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import errno
import logging
import math
import os
import re
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, NoReturn

from dash import Dash

from api import ApiSettings, register_api, register_incident_actions, register_metrics, register_notifications
from callbacks import register_callbacks
from callbacks.layout import dashboard_layout
from components.vendor import ASSETS_IGNORE, serve_bootstrap, serve_plotly_basic
from detection import Alert, ConfigError, Monitor, MonitorSettings, StoreError, load_thresholds
from detection import __version__ as VERSION
from detection.delivery import Delivery
from detection.incident_actions import IncidentActions
from detection.incidents import OPEN as OPEN_INCIDENT
from detection.incidents import Incident
from detection.notify_config import load_notification_config
from detection.roles import Roles, SoleInstance
from detection.silences import Silences
from detection.store import open_store
from detection.ticker import Ticker
from feeds.demo import FeedRunner, FeedWriter
from feeds.replay import ReplayError, ReplaySource
from serving import COMPRESS_MIN_BYTES, INDEX_STRING, MonitorDash, compress_responses

log = logging.getLogger("monitor")


@dataclass(frozen=True)
class AppConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    db: str = "monitor.db"
    db_sync: str = "normal"
    # This instance's name among several on one PostgreSQL (health, logs, the leadership row); host:port if unset.
    instance: str | None = None
    thresholds: str | None = None
    api_token: str | None = field(default=None, repr=False)
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
    # Where each setting came from, as the user typed it (``--port``, ``MONITOR_PORT``), so errors name that.
    sources: Mapping[str, str] | None = field(default=None, repr=False, compare=False)


# Environment variable for each setting that can come from the environment.
ENVIRONMENT = {
    "host": "MONITOR_HOST",
    "port": "MONITOR_PORT",
    "db": "MONITOR_DB",
    "db_sync": "MONITOR_DB_SYNC",
    "instance": "MONITOR_INSTANCE",
    "thresholds": "MONITOR_THRESHOLDS",
    "api_token": "MONITOR_API_TOKEN",
    "window_days": "MONITOR_WINDOW_DAYS",
    "retention_days": "MONITOR_RETENTION_DAYS",
    "refresh_ms": "MONITOR_REFRESH_MS",
    "threads": "MONITOR_THREADS",
    "notifications": "MONITOR_NOTIFICATIONS",
    "simulate": "MONITOR_SIMULATE",
}
# The flag for each setting that has one; a setting that was not typed is named by its flag, else its variable.
FLAGS = {
    "host": "--host", "port": "--port", "db": "--db", "thresholds": "--thresholds", "notifications": "--notifications",
    "instance": "--instance", "demo": "--demo", "replay": "--replay", "auth_codes_csv": "--auth-codes", "speed": "--speed",
}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
BOOL_WORDS = "1/0, true/false, yes/no, on/off"
INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")

# Ranges (documented in the README's configuration table).
PORTS = (1, 65535)
THREADS = (1, 256)
REFRESH_MS = (250, 3_600_000)
WINDOW_DAYS = (1 / 24, 366.0)  # an hour to a year of minutes in memory
MAX_RETENTION_DAYS = 3650.0
SPEEDS = (0.0, 100_000.0)
DB_SYNC = ("normal", "full", "off")
MAX_INSTANCE_NAME = 100


def setting_name(config: AppConfig | None, name: str) -> str:
    """The flag or variable the user typed for ``name``; its flag (else its variable) when it was not typed."""
    typed = (config.sources or {}).get(name) if config is not None else None
    return typed or FLAGS.get(name) or ENVIRONMENT.get(name) or name


def _coerce(name: str, raw: Any, source: str) -> Any:
    kind = {f.name: f.type for f in fields(AppConfig)}[name]
    if raw is None or not isinstance(raw, str):
        return raw
    if kind == "int":
        if not INTEGER.fullmatch(raw):
            raise ConfigError(f"{source}: expected an integer, got {raw!r}")
        try:
            return int(raw)
        except ValueError:  # more digits than Python converts
            raise ConfigError(f"{source}: expected an integer, got {len(raw)} characters") from None
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{source}: expected a number, got {raw!r}") from None
    if kind == "bool":
        word = raw.strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise ConfigError(f"{source}: expected one of {BOOL_WORDS}, got {raw!r}")
        return word in TRUE_WORDS
    return raw or None if kind.startswith("str |") else raw


class _Arguments(argparse.ArgumentParser):
    """argparse that reports a bad command line as a ConfigError (one line, exit 2), not usage text."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def config_from(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> AppConfig:
    """Defaults, then environment variables, then command-line flags; every value checked, errors name its source."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, var in ENVIRONMENT.items():
        if var in environ:
            values[name] = _coerce(name, environ[var], var)
            sources[name] = var
    parser = _Arguments(prog="python app.py", description="Real-time transaction monitor")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1; MONITOR_HOST)")
    parser.add_argument("--port", help="port, 1-65535 (default 8080; MONITOR_PORT)")
    parser.add_argument("--db", help="SQLite file, :memory:, or a PostgreSQL URL postgresql://user@host:5432/db "
                        "(default monitor.db; MONITOR_DB)")
    parser.add_argument("--instance", help="this instance's name among several on one PostgreSQL, at most "
                        f"{MAX_INSTANCE_NAME} characters (default host:port; MONITOR_INSTANCE)")
    parser.add_argument("--thresholds", help="thresholds JSON file (default: built-in; MONITOR_THRESHOLDS)")
    parser.add_argument("--notifications", help="notification channels JSON file (MONITOR_NOTIFICATIONS)")
    add_feed_arguments(parser)
    args = parser.parse_args(argv)
    values["notify_environ"] = dict(environ)
    for name in ("host", "port", "db", "instance", "thresholds", "notifications"):
        raw = getattr(args, name)
        if raw is not None:
            values[name] = _coerce(name, raw, f"--{name}")
            sources[name] = f"--{name}"
    feed = feed_values(args, values)
    for name in feed:  # a demo's memory store was asked for by --demo
        sources.setdefault(name, "--demo" if name == "db" else FLAGS[name])
    values.update(feed)
    config = replace(AppConfig(), **values, sources=sources)
    validate_config(config)
    check_files(config)
    return config


def add_feed_arguments(parser: argparse.ArgumentParser) -> None:
    feed = parser.add_mutually_exclusive_group()
    feed.add_argument("--demo", action="store_true",
                      help="backfill 24 h of synthetic history and stream live synthetic minutes (store: memory unless --db)")
    feed.add_argument("--replay", metavar="CSV", help="replay a transactions.csv export through the ingestion path")
    parser.add_argument("--auth-codes", metavar="CSV", help="with --replay: the matching transactions_auth_codes.csv")
    parser.add_argument("--speed", metavar="N",
                        help="streamed minutes per wall-clock minute, 0-100000 (default: demo 20, replay 60; 0 = no pause)")


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


def _number_in(config: AppConfig, name: str, low: float, high: float, unit: str = "") -> None:
    value = getattr(config, name)
    shown = f"{low:g} to {high:g}{unit}" if name != "window_days" else f"0.042 (one hour) to {high:g}{unit}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{setting_name(config, name)}: expected a number from {shown}, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{setting_name(config, name)}: expected a finite number from {shown}, got {value}")
    if not low <= value <= high:
        raise ConfigError(f"{setting_name(config, name)}: expected {shown}, got {value:g}")


def validate_config(config: AppConfig) -> None:
    """Every setting within its documented range; the message names the flag or variable it came from."""
    def name(key: str) -> str:
        return setting_name(config, key)

    if not isinstance(config.host, str) or not config.host.strip() or any(c.isspace() for c in config.host):
        raise ConfigError(f"{name('host')}: expected an interface name or address (e.g. 127.0.0.1), got {config.host!r}")
    for key, (low, high) in (("port", PORTS), ("threads", THREADS), ("refresh_ms", REFRESH_MS)):
        value = getattr(config, key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name(key)}: expected an integer from {low} to {high}, got {value!r}")
        if key == "refresh_ms" and value < low:
            raise ConfigError(f"{name(key)}: expected at least {low}, got {value}")
        if not low <= value <= high:
            raise ConfigError(f"{name(key)}: expected {low} to {high}, got {value}")
    if not isinstance(config.db, str) or not config.db.strip():
        raise ConfigError(f"{name('db')}: expected a file path, :memory: or a postgresql:// URL, got {config.db!r}")
    if not isinstance(config.db_sync, str) or config.db_sync.lower() not in DB_SYNC:
        raise ConfigError(f"{name('db_sync')}: expected normal, full or off, got {config.db_sync!r}")
    instance = config.instance
    if instance is not None and not (isinstance(instance, str) and 0 < len(instance) <= MAX_INSTANCE_NAME
                                     and instance.isprintable() and instance.strip() == instance):
        raise ConfigError(f"{name('instance')}: expected 1 to {MAX_INSTANCE_NAME} visible characters "
                          f"(no leading or trailing space), got {str(instance)[:MAX_INSTANCE_NAME]!r}")
    _number_in(config, "window_days", *WINDOW_DAYS, " days")
    _number_in(config, "retention_days", 0.0, MAX_RETENTION_DAYS, " days")
    if config.retention_days < config.window_days:
        raise ConfigError(f"{name('retention_days')}: expected at least {name('window_days')} "
                          f"({config.window_days:g} days), got {config.retention_days:g}")
    if config.speed is not None:
        _number_in(config, "speed", *SPEEDS, " minutes per minute")
    _number_in(config, "tick_seconds", 0.01, 3600.0, " s")
    token = config.api_token
    if token is not None and not (isinstance(token, str) and token.isascii() and token.isprintable()
                                  and not any(c.isspace() for c in token)):
        # Never echo the token: it is a secret, and it may be almost right.
        raise ConfigError(f"{name('api_token')}: expected visible ASCII characters without spaces "
                          "(it is sent in an HTTP header)")


def check_files(config: AppConfig) -> None:
    """Each file named on the command line or in the environment exists; a missing one is named by its flag."""
    for key in ("thresholds", "notifications", "replay", "auth_codes_csv"):
        path = getattr(config, key)
        if path is None:
            continue
        file = Path(path)
        if not file.exists():
            raise ConfigError(f"{setting_name(config, key)}: no such file: {path!r}")
        if not file.is_file():
            raise ConfigError(f"{setting_name(config, key)}: not a file: {path!r}")


def build_monitor(config: AppConfig) -> Monitor:
    thresholds = load_thresholds(config.thresholds)
    try:
        store = open_store(config.db, synchronous=config.db_sync, instance=instance_name(config))
    except StoreError as exc:
        raise ConfigError(f"{setting_name(config, 'db')}: {exc}") from None
    settings = MonitorSettings(
        window_minutes=int(config.window_days * 1440),
        retention_minutes=int(config.retention_days * 1440),
    )
    # On a shared store the engine judges only once this instance is elected (build_roles).
    return Monitor(thresholds, store, settings, judging=not store.shared)


def instance_name(config: AppConfig) -> str:
    return config.instance or f"{socket.gethostname()}:{config.port}"


def build_roles(config: AppConfig, monitor: Monitor, delivery: Delivery, silences: Silences) -> Roles:
    """One instance on SQLite leads alone; on PostgreSQL it joins the others and is elected, or stands by.

    The election is tried once here, so an instance alone on its database leads before it serves;
    ``serve`` starts the thread that keeps trying, judges and follows.
    """
    store = monitor.store
    if store.shared:
        from detection.cluster import Cluster  # psycopg is only needed by those who use PostgreSQL

        try:
            # Silences are kept in memory and may be made on any instance: reread each second.
            return Cluster(monitor, store, delivery, refresh=[silences.refresh])  # type: ignore[arg-type]
        except StoreError as exc:
            raise ConfigError(f"{setting_name(config, 'db')}: {exc}") from None
    return SoleInstance(instance_name(config), monitor.started_wall)


# Every incident the store holds; retention bounds how many that is.
ALL_STORED_INCIDENTS = 1_000_000


def build_delivery(config: AppConfig, monitor: Monitor,
                   actions: IncidentActions | None = None) -> tuple[Delivery, Silences]:
    """Channels from the notifications file and environment; the worker sends per incident (its
    ``incident_listener`` is what the incident tracker calls) and only once started; acknowledged
    incidents (``actions``) get no reminders."""
    notify = load_notification_config(config.notifications, config.notify_environ or {}, monitor.thresholds.runbooks())
    silences = Silences(monitor.store)
    dashboard = notify.dashboard_url or f"http://{config.host}:{config.port}/"
    store = monitor.store

    def committed_incidents(with_resolved: bool) -> list[Incident]:
        # Where a reconcile finds what the engine committed: every stored incident (retention bounds
        # them), or only the open ones for the periodic pass. Read through the store's per-thread reader.
        return store.incidents(None if with_resolved else [OPEN_INCIDENT], limit=ALL_STORED_INCIDENTS)

    delivery = Delivery(store, notify.channels, notify.settings, silences, dashboard, incidents=committed_incidents,
                        acknowledged=actions.acknowledged if actions is not None else None)
    monitor.add_incident_listener(delivery.incident_listener)
    return delivery, silences


def create_app(config: AppConfig | Mapping[str, Any] | None = None, monitor: Monitor | None = None) -> Dash:
    """The app factory: one Monitor, handed to the REST API and the callbacks."""
    if config is None:
        config = AppConfig()
    elif not isinstance(config, AppConfig):
        config = replace(AppConfig(), **dict(config))
    validate_config(config)
    monitor = monitor if monitor is not None else build_monitor(config)

    app = MonitorDash(__name__, title=config.title, serve_locally=True, update_title=None, assets_ignore=ASSETS_IGNORE,
                      index_string=INDEX_STRING)
    server = app.server
    app.config.external_stylesheets = [serve_bootstrap(server)]  # served from the installed package, no CDN
    app.plotly_url = serve_plotly_basic(server)  # the basic Plotly bundle: a first page load in half the time
    compress_responses(server)  # compressed answers; fingerprinted files cached for a year
    mode = "DEMO" if config.demo else "REPLAY" if config.replay else None
    simulate = config.simulate or config.demo  # nothing synthetic unless asked for
    app.layout = dashboard_layout(monitor, config.title, config.refresh_ms, mode=mode, simulate=simulate,
                                  base_url=f"http://{config.host}:{config.port}", token_required=bool(config.api_token))
    server.extensions["monitor"] = monitor
    server.extensions["monitor_config"] = config
    actions = server.extensions["incident_actions"] = IncidentActions(monitor.store)
    delivery, silences = build_delivery(config, monitor, actions)
    server.extensions["delivery"] = delivery  # started by serve(), or by a test
    server.extensions["silences"] = silences
    roles = server.extensions["roles"] = build_roles(config, monitor, delivery, silences)
    def alert_marks(alert: Alert) -> dict[str, Any]:
        return {"silenced": silences.is_silenced(alert)}

    ingest_metrics = register_metrics(server, monitor, delivery, silences, roles)
    register_api(server, monitor, ApiSettings(
        api_token=config.api_token, version=VERSION, store_path=monitor.store.name, alert_marks=alert_marks,
        observe_ingest=ingest_metrics.observe, incident_actions=actions, roles=roles,
    ), direct_below=COMPRESS_MIN_BYTES)  # small accepted ingest answers skip Flask: never compressed anyway
    register_notifications(server, delivery, silences, config.api_token)
    register_incident_actions(server, actions, config.api_token)
    # One writer for the simulate buttons and the demo/replay feed, so they never post the same minute.
    writer = server.extensions["feed_writer"] = FeedWriter(monitor)
    register_callbacks(app, monitor, writer if simulate else None, alert_marks, config.api_token)
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


def bind(app: Dash, config: AppConfig) -> Any:
    """The waitress server, bound to its address before any thread starts, so a busy port is one line, not a trace."""
    from waitress import create_server

    try:
        return create_server(app.server, host=config.host, port=config.port, threads=config.threads, ident="monitor")
    except OSError as exc:
        raise ConfigError(bind_error(config, exc)) from None
    except ValueError:  # waitress: the host name does not resolve
        raise ConfigError(f"{setting_name(config, 'host')} {config.host}: not an address or a known host name") from None


def bind_error(config: AppConfig, exc: OSError) -> str:
    """Why the address cannot be listened on, naming the setting to change."""
    port = f"{setting_name(config, 'port')} {config.port}"
    host = f"{setting_name(config, 'host')} {config.host}"
    where = f"{config.host}:{config.port}"
    if exc.errno == errno.EADDRINUSE:
        return f"{port}: address already in use ({where})"
    if exc.errno == errno.EACCES:
        return f"{port}: permission denied ({where}; ports below 1024 need privileges)"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"{host}: cannot listen on this address ({exc.strerror or exc})"
    return f"{port}: cannot listen on {where} ({exc.strerror or exc})"


def serve(app: Dash, config: AppConfig, replay: ReplaySource | None = None, server: Any = None) -> None:
    """Bind (unless handed a bound server), then start the ticker, the delivery worker and any feed, and serve."""
    server = server if server is not None else bind(app, config)
    monitor: Monitor = app.server.extensions["monitor"]
    ticker = Ticker(monitor, config.tick_seconds).start()
    delivery: Delivery = app.server.extensions["delivery"]
    delivery.start()
    roles: Roles = app.server.extensions["roles"]
    roles.start()
    feed = start_feed(app, config, replay)
    log.info("transaction monitor %s on http://%s:%d (store %s, instance %s, %s)", VERSION, config.host, config.port,
             monitor.store.name, roles.instance, roles.role)
    server.print_listen("Serving on http://{}:{}")
    try:
        server.run()
    finally:
        server.close()
        if feed is not None:
            feed.stop()
        roles.stop()  # on PostgreSQL, hands the lead over at once instead of when the session times out
        ticker.stop()
        delivery.stop()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from(argv)
        app = create_app(config)
        replay = read_replay(app, config)
        server = bind(app, config)
    except (ConfigError, StoreError, ReplayError) as exc:
        print("error: " + re.sub(r"\s*[\r\n]+\s*", " ", str(exc)), file=sys.stderr)  # one line, whatever it holds
        return 2
    serve(app, config, replay, server)
    return 0


if __name__ == "__main__":
    sys.exit(main())

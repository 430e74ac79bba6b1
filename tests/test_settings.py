"""Settings fail fast: one line naming the flag or variable as typed, every range checked, exit code 2, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app import config_from, create_app
from detection import ConfigError

ROOT = Path(__file__).resolve().parents[1]


# (command line, environment, the whole error message)
BAD = [
    ([], {"MONITOR_THREADS": "0"}, "MONITOR_THREADS: expected 1 to 256, got 0"),
    ([], {"MONITOR_THREADS": "-3"}, "MONITOR_THREADS: expected 1 to 256, got -3"),
    ([], {"MONITOR_THREADS": "10000"}, "MONITOR_THREADS: expected 1 to 256, got 10000"),
    ([], {"MONITOR_THREADS": "2.5"}, "MONITOR_THREADS: expected an integer, got '2.5'"),
    ([], {"MONITOR_THREADS": "8_0"}, "MONITOR_THREADS: expected an integer, got '8_0'"),
    ([], {"MONITOR_PORT": "0"}, "MONITOR_PORT: expected 1 to 65535, got 0"),
    ([], {"MONITOR_PORT": "70000"}, "MONITOR_PORT: expected 1 to 65535, got 70000"),
    (["--port", "70000"], {"MONITOR_PORT": "8081"}, "--port: expected 1 to 65535, got 70000"),
    (["--port", "http"], {}, "--port: expected an integer, got 'http'"),
    ([], {"MONITOR_PORT": "9" * 5000}, "MONITOR_PORT: expected an integer, got 5000 characters"),
    ([], {"MONITOR_HOST": ""}, "MONITOR_HOST: expected an interface name or address (e.g. 127.0.0.1), got ''"),
    (["--host", " "], {}, "--host: expected an interface name or address (e.g. 127.0.0.1), got ' '"),
    ([], {"MONITOR_DB": ""}, "MONITOR_DB: expected a file path, :memory: or a postgresql:// URL, got ''"),
    ([], {"MONITOR_DB_SYNC": "sometimes"}, "MONITOR_DB_SYNC: expected normal, full or off, got 'sometimes'"),
    ([], {"MONITOR_REFRESH_MS": "10"}, "MONITOR_REFRESH_MS: expected at least 250, got 10"),
    ([], {"MONITOR_REFRESH_MS": "3600001"}, "MONITOR_REFRESH_MS: expected 250 to 3600000, got 3600001"),
    ([], {"MONITOR_REFRESH_MS": "fast"}, "MONITOR_REFRESH_MS: expected an integer, got 'fast'"),
    ([], {"MONITOR_WINDOW_DAYS": "0"},
     "MONITOR_WINDOW_DAYS: expected 0.042 (one hour) to 366 days, got 0"),
    ([], {"MONITOR_WINDOW_DAYS": "400", "MONITOR_RETENTION_DAYS": "500"},
     "MONITOR_WINDOW_DAYS: expected 0.042 (one hour) to 366 days, got 400"),
    ([], {"MONITOR_WINDOW_DAYS": "nan"},
     "MONITOR_WINDOW_DAYS: expected a finite number from 0.042 (one hour) to 366 days, got nan"),
    ([], {"MONITOR_WINDOW_DAYS": "seven"}, "MONITOR_WINDOW_DAYS: expected a number, got 'seven'"),
    ([], {"MONITOR_RETENTION_DAYS": "inf"},
     "MONITOR_RETENTION_DAYS: expected a finite number from 0 to 3650 days, got inf"),
    ([], {"MONITOR_RETENTION_DAYS": "4000"}, "MONITOR_RETENTION_DAYS: expected 0 to 3650 days, got 4000"),
    ([], {"MONITOR_RETENTION_DAYS": "3"},
     "MONITOR_RETENTION_DAYS: expected at least MONITOR_WINDOW_DAYS (7 days), got 3"),
    ([], {"MONITOR_SIMULATE": "maybe"}, "MONITOR_SIMULATE: expected one of 1/0, true/false, yes/no, on/off, got 'maybe'"),
    ([], {"MONITOR_SIMULATE": "2"}, "MONITOR_SIMULATE: expected one of 1/0, true/false, yes/no, on/off, got '2'"),
    ([], {"MONITOR_API_TOKEN": "two words"},
     "MONITOR_API_TOKEN: expected visible ASCII characters without spaces (it is sent in an HTTP header)"),
    (["--demo", "--speed", "-1"], {}, "--speed: expected 0 to 100000 minutes per minute, got -1"),
    (["--demo", "--speed", "nan"], {}, "--speed: expected a finite number from 0 to 100000 minutes per minute, got nan"),
    (["--demo", "--speed", "fast"], {}, "--speed: expected a number of minutes per minute, got 'fast'"),
    (["--thresholds", "no-such-thresholds.json"], {}, "--thresholds: no such file: 'no-such-thresholds.json'"),
    ([], {"MONITOR_THRESHOLDS": "no-such.json"}, "MONITOR_THRESHOLDS: no such file: 'no-such.json'"),
    (["--notifications", "no-such-notify.json"], {}, "--notifications: no such file: 'no-such-notify.json'"),
    ([], {"MONITOR_NOTIFICATIONS": "tests"}, "MONITOR_NOTIFICATIONS: not a file: 'tests'"),
    (["--replay", "no-such.csv"], {}, "--replay: no such file: 'no-such.csv'"),
    (["--auth-codes", "a.csv"], {}, "--auth-codes: only used with --replay"),
    (["--bogus"], {}, "unrecognized arguments: --bogus"),
    (["--port"], {}, "argument --port: expected one argument"),
]


@pytest.mark.parametrize(("argv", "environ", "message"), BAD, ids=[" ".join([*a, *e]) for a, e, _ in BAD])
def test_a_bad_setting_is_named_as_typed(argv, environ, message):
    with pytest.raises(ConfigError) as caught:
        config_from(argv, environ)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_a_missing_auth_codes_file_is_named_by_its_flag(tmp_path):
    replay = tmp_path / "t.csv"
    replay.write_text("timestamp,status,count\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config_from(["--replay", str(replay), "--auth-codes", str(tmp_path / "a.csv")], {})
    assert str(caught.value) == f"--auth-codes: no such file: {str(tmp_path / 'a.csv')!r}"


GOOD = [
    ({"MONITOR_THREADS": "1"}, "threads", 1),
    ({"MONITOR_THREADS": "256"}, "threads", 256),
    ({"MONITOR_THREADS": " 16 "}, "threads", 16),
    ({"MONITOR_PORT": "1"}, "port", 1),
    ({"MONITOR_PORT": "65535"}, "port", 65535),
    ({"MONITOR_REFRESH_MS": "250"}, "refresh_ms", 250),
    ({"MONITOR_REFRESH_MS": "3600000"}, "refresh_ms", 3_600_000),
    ({"MONITOR_WINDOW_DAYS": "0.042", "MONITOR_RETENTION_DAYS": "0.042"}, "window_days", 0.042),
    ({"MONITOR_WINDOW_DAYS": "366", "MONITOR_RETENTION_DAYS": "3650"}, "retention_days", 3650.0),
    ({"MONITOR_DB_SYNC": "FULL"}, "db_sync", "FULL"),
    ({"MONITOR_API_TOKEN": ""}, "api_token", None),  # empty is unset, as for every optional setting
    ({"MONITOR_API_TOKEN": "s3cr3t-T0ken_~!"}, "api_token", "s3cr3t-T0ken_~!"),
    *[({"MONITOR_SIMULATE": word}, "simulate", True) for word in ("1", "true", "YES", "On ")],
    *[({"MONITOR_SIMULATE": word}, "simulate", False) for word in ("0", "false", "No", "off")],
]


@pytest.mark.parametrize(("environ", "name", "value"), GOOD, ids=[str(e) for e, _, _ in GOOD])
def test_values_at_the_ends_of_each_range_are_accepted(environ, name, value):
    assert getattr(config_from([], environ), name) == value


def test_a_flag_wins_over_its_variable_and_the_error_names_the_flag():
    config = config_from(["--port", "9000"], {"MONITOR_PORT": "70000"})
    assert config.port == 9000 and config.sources["port"] == "--port"
    assert config_from([], {"MONITOR_PORT": "9001"}).sources["port"] == "MONITOR_PORT"


# ------------------------------------------------------------------ the real process

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_app(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "app.py", *args], check=False, cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [expected], result.stderr[-2000:]


def test_a_busy_port_is_one_line_naming_the_flag():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_app(["--db", ":memory:", "--port", str(port)])
        assert_one_line_error(result, f"error: --port {port}: address already in use (127.0.0.1:{port})")
        from_env = run_app(["--db", ":memory:"], {"MONITOR_PORT": str(port)})
        assert_one_line_error(from_env, f"error: MONITOR_PORT {port}: address already in use (127.0.0.1:{port})")


@pytest.mark.parametrize(("args", "env", "expected"), [
    ([], {"MONITOR_THREADS": "0"}, "error: MONITOR_THREADS: expected 1 to 256, got 0"),
    ([], {"MONITOR_REFRESH_MS": "10"}, "error: MONITOR_REFRESH_MS: expected at least 250, got 10"),
    ([], {"MONITOR_SIMULATE": "perhaps"},
     "error: MONITOR_SIMULATE: expected one of 1/0, true/false, yes/no, on/off, got 'perhaps'"),
    ([], {"MONITOR_DB_SYNC": "fast"}, "error: MONITOR_DB_SYNC: expected normal, full or off, got 'fast'"),
    (["--thresholds", "missing.json"], {}, "error: --thresholds: no such file: 'missing.json'"),
    (["--db", "/no/such/folder/m.db"], {},
     "error: --db: cannot open store at '/no/such/folder/m.db': unable to open database file"),
    (["--host", "no-such-host.invalid"], {}, "error: --host no-such-host.invalid: not an address or a known host name"),
    (["--retention"], {}, "error: unrecognized arguments: --retention"),
])
def test_a_bad_setting_stops_the_real_process_with_one_line(args, env, expected):
    result = run_app(["--db", ":memory:", "--port", str(free_port()), *args], env)  # a later flag wins
    assert_one_line_error(result, expected)


# ------------------------------------------------------------------ notification variables

@pytest.mark.parametrize(("environ", "message"), [
    ({"MONITOR_WEBHOOK_URL": "hooks.example.com/x?token=s3cret"},
     "MONITOR_WEBHOOK_URL: expected an http:// or https:// URL, got '***'"),
    ({"MONITOR_WEBHOOK_URL": "ftp://user:pw@example.com/x"},
     "MONITOR_WEBHOOK_URL: expected an http:// or https:// URL, got 'ftp://***@example.com/x'"),
    ({"MONITOR_SLACK_WEBHOOK_URL": "T0/B0/XYZ"}, "MONITOR_SLACK_WEBHOOK_URL: expected an http:// or https:// URL, got '***'"),
    ({"MONITOR_SMTP_HOST": "mail", "MONITOR_SMTP_FROM": "a@b", "MONITOR_SMTP_TO": "c@d", "MONITOR_SMTP_STARTTLS": "y"},
     "MONITOR_SMTP_STARTTLS: expected one of 1/0, true/false, yes/no, on/off, got 'y'"),
    ({"MONITOR_SMTP_HOST": "mail", "MONITOR_SMTP_FROM": "a@b", "MONITOR_SMTP_TO": "c@d", "MONITOR_SMTP_PORT": "0"},
     "MONITOR_SMTP_PORT: expected 1 to 65535, got 0"),
])
def test_a_bad_notification_variable_is_named(environ, message):
    config = config_from([], {"MONITOR_DB": ":memory:", **environ})
    with pytest.raises(ConfigError) as caught:
        create_app(config)  # the notification variables are read when the app is built
    assert str(caught.value) == message

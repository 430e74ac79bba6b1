"""A real PostgreSQL server for the tests: initdb and pg_ctl in a temporary directory, stopped at the end.

Run as the ``postgres`` user when the tests run as root (PostgreSQL refuses to run as root). Each test
gets a database of its own (``fresh_database``), created from template0 in a few tens of milliseconds.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

BIN_DIRS = (os.environ.get("PG_BIN", ""), "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
            "/usr/lib/postgresql/17/bin")
INSTALL_HINT = ("PostgreSQL's server binaries (initdb, pg_ctl) were not found in {dirs}; the store tests run "
                "against a real PostgreSQL: apt-get install postgresql (or set PG_BIN to their directory)")


def find_bin() -> Path:
    for directory in BIN_DIRS:
        if directory and (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    raise RuntimeError(INSTALL_HINT.format(dirs=", ".join(d for d in BIN_DIRS if d)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One throwaway cluster on 127.0.0.1; ``url(db)`` names a database in it."""

    def __init__(self, fsync: bool = False) -> None:
        self.fsync = fsync
        self.bin = find_bin()
        self.root = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self._names = itertools.count(1)
        self.started = False

    def _run(self, *args: str) -> None:
        command = [str(a) for a in args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-instructions")
        # fsync off for tests: they never pull the plug on the machine, and it makes CREATE DATABASE cheap.
        durable = "" if self.fsync else " -c fsync=off -c full_page_writes=off"
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200{durable}"
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-o", options, "-w", "start")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_database(self) -> str:
        """A new empty database; its URL."""
        name = f"t{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def sessions(self, url: str) -> int:
        """How many sessions are connected to the database ``url`` names (this query's own is not counted)."""
        database = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)).fetchone()
        return int(row[0]) if row else 0

    def stop(self) -> None:
        try:
            if self.started:
                self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

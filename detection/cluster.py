"""Several instances on one PostgreSQL: one leader, elected by an advisory lock, and standbys.

The leader is the instance whose session holds ``pg_try_advisory_lock(LEADER_LOCK_KEY)``; it is the
only one that judges rules and delivers notifications. The database is the arbiter: when the
leader's session ends (``kill -9``, a lost machine once the server's TCP keepalives give up on it),
PostgreSQL frees the lock and a standby that tries for it every ``retry_seconds`` takes it, names
itself in the ``leadership`` row with a new term, reloads the engine from the store and judges
whatever no leader judged (detection/ingest_log.py). Its judging writes are fenced by the term.

Standbys accept writes (detection/standby.py), follow the ingest log so their page shows every
instance's counts, and reread the leader's alerts, incidents and feed clocks every second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, Protocol

import psycopg

from .background import BackgroundThread
from .ingest_log import LEADER_LOCK_KEY, LOG_KEEP_SECONDS, NOTIFY_CHANNEL, ROWS_PER_READ, Leader
from .monitor import Monitor
from .roles import LEADER, STANDBY
from .shared_ingest import JudgedWaiters, SharedIngest
from .store_core import StoreError
from .store_pg import PostgresStore, one_line

log = logging.getLogger("monitor.cluster")

RETRY_SECONDS = 1.0  # a standby tries for the leader lock this often; a leader checks its session as often
WAKE_SECONDS = 0.25  # the loop's longest sleep: a NOTIFY wakes it sooner
PRUNE_LOG_SECONDS = 60.0
# Server-side keepalives for the lock's session, so the server frees the lock of a leader whose machine is
# gone within about 6 s (3 + 3 x 1), not the operating system's two hours.
KEEPALIVES = ("SET tcp_keepalives_idle = 3", "SET tcp_keepalives_interval = 1", "SET tcp_keepalives_count = 3")


class Pausable(Protocol):
    """The notification worker: it delivers only while this instance leads."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class Cluster(BackgroundThread):
    """This instance among several on one PostgreSQL: elects, judges or follows, and hands over."""

    def __init__(self, monitor: Monitor, store: PostgresStore, delivery: Pausable | None = None,
                 retry_seconds: float = RETRY_SECONDS, clock: Callable[[], float] = time.time,
                 refresh: Sequence[Callable[[], None]] = ()):
        super().__init__("monitor-cluster")
        self.monitor = monitor
        self.store = store
        self.instance = store.instance
        self.delivery = delivery
        self.retry_seconds = retry_seconds
        self._clock = clock
        # What other instances may change and this one keeps in memory (silences): reread every retry_seconds.
        self._refresh = tuple(refresh)
        self.waiters = JudgedWaiters()
        self.shared = SharedIngest(monitor, self.judge_now, self.waiters, clock)
        monitor.shared = self.shared
        self._judge_lock = threading.Lock()  # one judge at a time: the loop, or a request thread on the leader
        self._session: psycopg.Connection[Any] | None = None  # holds the lock while leading; LISTENs always
        self._leads = False
        self._term: Leader | None = None
        self._known_leader: Leader | None = None  # who leads as this standby last read it (each retry_seconds)
        self._next_election = 0.0
        self._next_view = 0.0
        self._next_prune = 0.0
        self._last_follow = 0.0
        if delivery is not None:
            delivery.pause()
        monitor.demote()
        self.elect()  # at start, at once: one instance alone leads before it serves its first request
        if not self._leads:
            self._follow(reload=True)
            self._read_leader()

    # ----------------------------------------------------------------- asked
    @property
    def role(self) -> str:
        return LEADER if self._leads else STANDBY

    def leader(self) -> Leader | None:
        """Who leads: this instance's own term, or the leadership row as last read (no query: health asks it)."""
        if self._leads and self._term is not None:
            return self._term
        return self._known_leader

    def _read_leader(self) -> None:
        try:
            self._known_leader = self.store.leader()
        except StoreError as exc:
            log.warning("cluster: cannot read who leads: %s", exc)

    # -------------------------------------------------------------- election
    def _connect(self) -> psycopg.Connection[Any]:
        conn = self.store.session(f"monitor {self.instance}")
        for setting in KEEPALIVES:
            conn.execute(setting)
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return conn

    def elect(self) -> None:
        """Standby: try for the lock once. Leader: check that the session holding it is alive."""
        try:
            if self._session is None or self._session.closed or self._session.broken:
                self._lost("its session to the database ended")
                self._session = self._connect()
            if self._leads:
                self._session.execute("SELECT 1")
                return
            got = self._session.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,)).fetchone()
        except (psycopg.Error, StoreError) as exc:
            self._drop_session()
            why = one_line(exc) if isinstance(exc, psycopg.Error) else str(exc)
            if self._leads:
                self._lost(f"its session to the database failed: {why}")
            else:
                log.warning("cluster: cannot reach the database to elect a leader: %s", why)
            return
        if got is not None and got[0]:
            self._lead()

    def _lead(self) -> None:
        try:
            self._term = self.store.take_leadership(self._clock())
            self.monitor.promote()
        except StoreError as exc:
            log.error("cluster: %s won the lock but could not take over (%s); it lets go", self.instance, exc)
            self.monitor.demote()
            self._release()
            return
        self._leads = True
        log.warning("cluster: %s leads (term %d)", self.instance, self._term.term)
        if self.delivery is not None:
            self.delivery.resume()

    def _lost(self, why: str, level: int = logging.ERROR) -> None:
        """The lock is gone with the session (or may be): stop judging and delivering at once."""
        if not self._leads:
            return
        self._leads = False
        log.log(level, "cluster: %s no longer leads: %s", self.instance, why)
        if self.delivery is not None:
            self.delivery.pause()
        self.monitor.demote()
        self.monitor.log_cursor = None  # the follower reloads memory as a standby's

    def _release(self) -> None:
        if self._session is None:
            return
        try:
            self._session.execute("SELECT pg_advisory_unlock(%s)", (LEADER_LOCK_KEY,))
        except psycopg.Error:
            self._drop_session()  # closing the session frees the lock too

    def _drop_session(self) -> None:
        if self._session is not None:
            with suppress(psycopg.Error):  # a broken session may fail to close; it is dropped all the same
                self._session.close()
        self._session = None

    def step_down(self) -> None:
        """Hand the lead over (a clean shutdown): a standby takes it within ``retry_seconds``."""
        if self._leads:
            self._lost("it is shutting down", logging.INFO)
            self._release()

    # ------------------------------------------------------------------ work
    def run_until_stopped(self) -> None:
        while not self.stopped.is_set():
            try:
                self._round()
            except StoreError as exc:  # the database is away: said in one line, tried again next round
                log.warning("cluster: %s", exc)
                self.stopped.wait(self.retry_seconds)
            except Exception:  # the loop must outlive anything: it is what keeps this instance in the cluster
                log.exception("cluster: round failed")
                self.stopped.wait(self.retry_seconds)
        self.step_down()
        self._drop_session()

    def _round(self) -> None:
        self._wait_for_news()
        now = time.monotonic()
        if now >= self._next_election:
            self._next_election = now + self.retry_seconds
            self.elect()
            for refresh in self._refresh:
                try:
                    refresh()
                except StoreError as exc:
                    log.warning("cluster: %s", exc)
        if self._leads:
            with self._judge_lock:
                self._judge_waiting()
            if now >= self._next_prune:
                self._next_prune = now + PRUNE_LOG_SECONDS
                self.store.prune_log(self._clock() - LOG_KEEP_SECONDS)
            return
        behind = self._last_follow and now - self._last_follow > LOG_KEEP_SECONDS / 2
        self._follow(reload=self.monitor.log_cursor is None or bool(behind))
        if now >= self._next_view:
            self._next_view = now + self.retry_seconds
            self.monitor.refresh_view()
            self._read_leader()
        self._check_waiters()

    def _wait_for_news(self) -> None:
        """Sleep until a NOTIFY (records stored or judged) or WAKE_SECONDS; shorter while answers wait."""
        timeout = 0.02 if self.waiters.ids() else WAKE_SECONDS
        session = self._session
        if session is None or session.closed:
            self.stopped.wait(timeout)
            return
        try:
            list(session.notifies(timeout=timeout, stop_after=1))  # returns at the first NOTIFY or the timeout
        except psycopg.Error as exc:
            self._drop_session()
            if self._leads:
                self._lost(f"its session to the database failed: {one_line(exc)}")

    def judge_now(self) -> None:
        """A request thread on the leader judges what waits, unless another thread is at it (it then waits)."""
        if not self._judge_lock.acquire(blocking=False):
            return
        try:
            self._judge_waiting()
        except Exception:  # the request's records are stored; the loop judges them at its next round
            log.exception("cluster: judging the ingest log failed")
        finally:
            self._judge_lock.release()

    def _judge_waiting(self) -> None:
        """Judge every logged record no leader judged, oldest first (the caller holds the judge lock)."""
        while self._leads and self.monitor.judging:
            entries = self.store.unjudged()
            if not entries:
                self._check_waiters()  # rows judged by a reload (a promotion) wake their answers too
                return
            self.monitor.judge_logged(entries)
            self.waiters.judged(entry.id for entry in entries)
            if len(entries) < ROWS_PER_READ:
                return

    def _check_waiters(self) -> None:
        """Wake the answers whose records a leader judged (one query for all of them)."""
        ids = self.waiters.ids()
        if not ids:
            return
        try:
            self.waiters.judged(self.store.judged_among(ids))
        except StoreError:
            pass  # the answers run out their wait and go out with the alerts as they are

    def _follow(self, reload: bool) -> None:
        """A standby's page: every instance's records (the log, by snapshot), or all of memory again."""
        try:
            if reload:
                self.monitor.reload()
            else:
                cursor = self.monitor.log_cursor
                if cursor is None:
                    return
                after, entries = self.store.log_since(cursor)
                self.monitor.follow(entries, cursor, after)
        except StoreError as exc:
            log.warning("cluster: a standby's view could not follow the store: %s", exc)
            return
        self._last_follow = time.monotonic()

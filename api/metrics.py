"""GET /metrics in the Prometheus text format, from a registry that belongs to this app (never the global one).

Engine numbers (ingested counts, firing alerts, notification outcomes) are read
at scrape time by a custom collector; request counts are reported by the two
ingest routes themselves (``IngestMetrics.observe``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from detection import Monitor
from detection.alerts import FIRING, SEVERITIES
from detection.delivery import Delivery
from detection.incidents import KINDS
from detection.metrics import auth_code_metric, status_metric
from detection.roles import LEADER, Roles
from detection.silences import Silences


class EngineCollector(Collector):
    """Reads the Monitor and the delivery worker when Prometheus scrapes."""

    def __init__(self, monitor: Monitor, delivery: Delivery | None, silences: Silences | None,
                 roles: Roles | None = None):
        self.monitor = monitor
        self.delivery = delivery
        self.silences = silences
        self.roles = roles

    def collect(self) -> Iterator[Metric]:
        yield from self._role()
        thresholds = self.monitor.thresholds
        totals = self.monitor.ingested_totals()
        statuses = CounterMetricFamily(
            "monitor_ingested_transactions", "Transactions accepted per status since the process started",
            labels=["status"])
        for status in thresholds.statuses:
            statuses.add_metric([status], totals.get(status_metric(status), 0))
        yield statuses
        codes = CounterMetricFamily(
            "monitor_ingested_auth_codes", "Transactions accepted per authorization code since the process started",
            labels=["auth_code"])
        for code in thresholds.auth_codes:
            codes.add_metric([code], totals.get(auth_code_metric(code), 0))
        yield codes

        snap = self.monitor.snapshot(1, recent_alerts=0)
        firing: dict[tuple[str, str, str], int] = {
            (r.id, r.metric, r.severity): 0 for r in thresholds.rules
        }
        silenced: dict[tuple[str, str, str], int] = {}
        for alert in snap.open_alerts:
            if alert.state != FIRING:
                continue
            key = (alert.rule, alert.metric, alert.severity)
            firing[key] = firing.get(key, 0) + 1
            if self.silences is not None and self.silences.is_silenced(alert):
                silenced[key] = silenced.get(key, 0) + 1
        gauge = GaugeMetricFamily("monitor_alerts_firing", "Alerts firing now, per rule and metric",
                                  labels=["rule", "metric", "severity"])
        for key, n in sorted(firing.items()):
            gauge.add_metric(list(key), n)
        yield gauge
        muted = GaugeMetricFamily("monitor_alerts_firing_silenced", "Firing alerts that a silence mutes",
                                  labels=["rule", "metric", "severity"])
        for key, n in sorted(silenced.items()):
            muted.add_metric(list(key), n)
        yield muted

        # Every kind and severity, zeros included, so an alert rule on the gauge sees 0, not an absent series.
        open_incidents = {(kind, severity): 0 for kind in KINDS for severity in SEVERITIES}
        for incident in snap.open_incidents:
            kind_severity = (incident.kind, incident.severity)
            open_incidents[kind_severity] = open_incidents.get(kind_severity, 0) + 1
        incidents = GaugeMetricFamily("monitor_incidents_open", "Open incidents, per kind and severity",
                                      labels=["kind", "severity"])
        for (kind, severity), n in sorted(open_incidents.items()):
            incidents.add_metric([kind, severity], n)
        yield incidents

        newest = GaugeMetricFamily("monitor_newest_event_timestamp_seconds",
                                   "Event time of the newest minute received, per feed", labels=["feed"])
        for feed, feed_status in snap.feeds.items():
            if feed_status.newest_minute is not None:
                newest.add_metric([feed], feed_status.newest_minute * 60)
        yield newest

        if self.monitor.labels.enabled:  # cardinality to watch: values held per dimension (each capped)
            held = GaugeMetricFamily("monitor_dimension_values", "Values held per dimension (max_values caps each)",
                                     labels=["dimension"])
            for dimension, values in sorted(self.monitor.labels.values().items()):
                held.add_metric([dimension], len(values))
            yield held
            yield GaugeMetricFamily("monitor_slice_series", "Slice series held in memory (slices x counts)",
                                    value=self.monitor.with_slices(lambda slices, _newest: slices.series_count))

        if self.silences is not None:
            yield GaugeMetricFamily("monitor_silences_active", "Silences in force now", value=self.silences.active_count())
        if self.delivery is not None:
            stats = self.delivery.stats()
            outcomes = CounterMetricFamily("monitor_notifications", "Notification attempts per channel and outcome "
                                           "(delivered, error = retried, failed, silenced, skipped)",
                                           labels=["channel", "outcome"])
            for (channel, outcome), n in sorted(stats["outcomes"].items()):
                outcomes.add_metric([channel, outcome], n)
            yield outcomes
            yield CounterMetricFamily("monitor_notification_transitions_dropped",
                                      "Transitions the full queue turned away (a reconcile sends them later)",
                                      value=stats["dropped"])
            yield GaugeMetricFamily("monitor_notification_queue_depth", "Transition batches waiting for the dispatcher",
                                    value=stats["queue_depth"])
            pending = GaugeMetricFamily("monitor_notification_pending", "Incident messages waiting for or being sent by a channel",
                                        labels=["channel"])
            for channel, n in sorted(stats["pending"].items()):
                pending.add_metric([channel], n)
            yield pending



    def _role(self) -> Iterator[Metric]:
        """Whether this instance leads (judges rules and delivers) and since when: one series each."""
        if self.roles is None:
            return
        leader = self.roles.leader()
        leads = GaugeMetricFamily("monitor_leader", "1 while this instance leads (evaluates rules, delivers "
                                  "notifications), 0 while it stands by", labels=["instance"])
        leads.add_metric([self.roles.instance], 1 if self.roles.role == LEADER else 0)
        yield leads
        since = GaugeMetricFamily("monitor_leader_since_seconds", "When the current leader took the lead "
                                  "(Unix time), as this instance knows it", labels=["leader"])
        if leader is not None:
            since.add_metric([leader.instance], leader.since)
        yield since

class IngestMetrics:
    """Counters for the ingest routes, observed by the routes themselves (cheaper than request hooks)."""

    def __init__(self, registry: CollectorRegistry):
        self._requests = Counter("monitor_ingest_requests", "Requests to the ingest routes, per feed and HTTP status",
                                 ["feed", "code"], registry=registry)
        self._errors = Counter("monitor_ingest_errors", "Rejected ingest requests, per feed and error code",
                               ["feed", "error"], registry=registry)
        self._duration = Histogram("monitor_ingest_request_duration_seconds", "Time to answer an ingest request",
                                   ["feed"], registry=registry,
                                   buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self._children: dict[tuple, Any] = {}  # labelled children, looked up once: this runs per request

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, feed: str, status: int, error: str | None, seconds: float) -> None:
        self._child(self._duration, feed).observe(seconds)
        self._child(self._requests, feed, str(status)).inc()
        if status >= 400:
            self._child(self._errors, feed, error or str(status)).inc()


def register_metrics(server: Flask, monitor: Monitor, delivery: Delivery | None = None,
                     silences: Silences | None = None, roles: Roles | None = None) -> IngestMetrics:
    """Serve GET /metrics from a registry of this app's own; the ingest routes report to what it returns."""
    registry = CollectorRegistry()
    registry.register(EngineCollector(monitor, delivery, silences, roles))
    ingest = IngestMetrics(registry)
    server.extensions["metrics_registry"] = registry

    @server.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return ingest

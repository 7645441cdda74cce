"""Prometheus metrics for the service itself. One registry per app (tests build many apps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.checks = Counter(
            "camsvc_checks_total",
            "Checks run, by result (ok or the error class)",
            ["result"],
            registry=self.registry,
        )
        self.check_depth = Counter(
            "camsvc_check_depth_total",
            "Checks by depth: full (the window decoded), light (packets + one keyframe), escalated (a light "
            "check turned full because its packets looked unusual)",
            ["depth"],
            registry=self.registry,
        )
        self.check_duration = Histogram(
            "camsvc_check_duration_seconds",
            "Wall time of one probe",
            buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30),
            registry=self.registry,
        )
        self.transitions = Counter(
            "camsvc_transitions_total", "State changes", ["new_state"], registry=self.registry
        )
        self.check_write = Histogram(
            "camsvc_check_write_seconds",
            "Database time to record one check (state machine, outage, transitions, in one transaction)",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=self.registry,
        )
        self.check_errors = Counter(
            "camsvc_check_processing_errors_total",
            "Checks whose result could not be recorded",
            registry=self.registry,
        )

    def add_gauges(
        self, name: str, doc: str, labels: list[str], fn: Callable[[], dict[tuple[str, ...], float]]
    ) -> None:
        """A gauge computed at scrape time (e.g. cameras by state, probe pool saturation)."""
        self.registry.register(_FnCollector(name, doc, labels, fn))

    def add_pipeline(self, health: Callable[[], Any]) -> None:
        """The check pipeline's gauges (camsvc/runtime/pipeline.py), from one evaluation per scrape."""
        self.registry.register(_PipelineCollector(health))


class _PipelineCollector(Collector):
    STATUS = {"ok": 0.0, "degraded": 1.0, "failing": 2.0}
    REASONS = (
        "database",
        "starting",
        "checks_stopped",
        "no_leader",
        "checks_behind",
        "write_errors",
        "alert_backlog",
        "alert_backlog_size",
    )

    def __init__(self, health: Callable[[], Any]):
        self.health = health

    def collect(self) -> Any:
        try:
            h = self.health()
        except Exception:  # a scrape must never fail because one source did
            return

        def g(name: str, doc: str, value: float | None) -> Any:
            m = GaugeMetricFamily(name, doc)
            if value is not None:
                m.add_metric([], float(value))
            return m

        yield g(
            "camsvc_pipeline_status", "Check pipeline: 0 ok, 1 degraded, 2 failing", self.STATUS[h.status]
        )
        yield g("camsvc_pipeline_checks_in_window", "Checks recorded in the window", h.checks_in_window)
        yield g(
            "camsvc_pipeline_expected_checks", "Checks the enabled cameras should record", h.expected_checks
        )
        yield g("camsvc_pipeline_window_seconds", "The window checks are counted over", h.window_s)
        yield g("camsvc_pipeline_newest_check_age_seconds", "Age of the newest check", h.newest_check_age_s)
        yield g(
            "camsvc_pipeline_write_errors", "Checks not recorded in the window (this process)", h.write_errors
        )
        yield g(
            "camsvc_pipeline_is_leader", "This process runs the checks", 1.0 if h.leader == "this" else 0.0
        )
        yield g("camsvc_pipeline_outbox_pending", "Alert messages waiting to be sent", h.outbox_pending)
        yield g(
            "camsvc_pipeline_outbox_oldest_age_seconds",
            "Age of the oldest pending alert message",
            h.outbox_oldest_age_s,
        )
        stopped = h.stopped_since.timestamp() if h.stopped_since else None
        yield g("camsvc_pipeline_stopped_since_timestamp", "Checks not running since (Unix time)", stopped)
        r = GaugeMetricFamily(
            "camsvc_pipeline_reason", "1 for each reason the pipeline is not ok", labels=["reason"]
        )
        for reason in self.REASONS:
            r.add_metric([reason], 1.0 if reason in h.reasons else 0.0)
        yield r


class _FnCollector(Collector):
    def __init__(
        self, name: str, doc: str, labels: list[str], fn: Callable[[], dict[tuple[str, ...], float]]
    ):
        self.name, self.doc, self.labels, self.fn = name, doc, labels, fn

    def collect(self) -> Any:
        g = GaugeMetricFamily(self.name, self.doc, labels=self.labels)
        try:
            values = self.fn()
        except Exception:  # a scrape must never fail because one source did
            values = {}
        for key, v in values.items():
            g.add_metric(list(key), v)
        yield g

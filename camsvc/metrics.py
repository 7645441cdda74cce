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
        self.check_duration = Histogram(
            "camsvc_check_duration_seconds",
            "Wall time of one probe",
            buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30),
            registry=self.registry,
        )
        self.transitions = Counter(
            "camsvc_transitions_total", "State changes", ["new_state"], registry=self.registry
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

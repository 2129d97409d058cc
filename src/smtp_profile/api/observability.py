"""Prometheus metrics and the request id that every log record carries.

The edge middleware (:mod:`smtp_profile.api.edge`) feeds both per request.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


class Metrics:
    """One registry per app, so several apps in one process do not collide.

    Labelled children are looked up once and kept: prometheus_client validates the
    labels on every ``labels()`` call, which shows on the hot GET path.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "smtp_profile_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "smtp_profile_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.tests = Counter(
            "smtp_profile_tests",
            "Test sends by outcome and failing step",
            ["outcome", "stage"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True

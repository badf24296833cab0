"""Prometheus metrics from ``request_finished``: a request counter and two latency
histograms, all labelled by status code.

    http_requests_total{status="200"} 41.0
    http_response_duration_seconds_bucket{le="0.005",status="200"} 38.0
    http_request_duration_seconds_bucket{le="0.005",status="200"} 35.0

Two latencies, because they answer different questions:

* ``http_response_duration_seconds`` (from ``response_duration``) is the latency the
  client saw: until the app handed the server the last of the body. Alert on this one
  and draw its percentiles.
* ``http_request_duration_seconds`` (from ``duration``) runs until the request is over,
  background work included: a Starlette or FastAPI background task, or a WSGI
  ``close()`` callback, that takes 2 s makes a 5 ms response last 2 s here. It is what
  the request cost a worker.

A request whose body never reached its end (the app raised first, the client left
mid-stream) has no ``response_duration``: it is counted, and timed in the second
histogram only. Websockets have no ``response_duration`` either.

Usage::

    from examples.receivers.prometheus import RequestMetrics

    metrics = RequestMetrics()
    metrics.connect()                  # keep `metrics` referenced: receivers are weak
    body, content_type = metrics.exposition()   # serve these at /metrics

Each instance has its own :class:`~prometheus_client.CollectorRegistry` (pass
``registry=REGISTRY`` to use the global one), so two apps — or two tests — in one
process never share counts. ``prometheus_client.make_wsgi_app(metrics.registry)`` and
``make_asgi_app(metrics.registry)`` serve a registry as an app of their own.

With several worker processes (gunicorn ``-w 4``) each process counts its own requests;
see prometheus_client's multiprocess mode to aggregate them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from reqsignals import request_finished
from reqsignals.types import RequestFinishedArgs

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack on Python 3.11+


class RequestMetrics:
    """A request counter and two latency histograms, fed by ``request_finished``.

    Args:
        registry: where the metrics are registered; a new registry by default.
        namespace: prefix of the metric names (``http`` gives ``http_requests_total``).
        buckets: the histograms' upper bounds in seconds; prometheus_client's defaults
            (5 ms to 10 s) when omitted.

    A request whose app raised before answering is counted with ``status="500"``, what
    the server answered; one that ended with no response at all (the app returned
    without one, or was cancelled) with ``status="none"``.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "http",
        buckets: tuple[float, ...] | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "requests",
            "Requests served, by status code.",
            ["status"],
            namespace=namespace,
            registry=self.registry,
        )
        histogram_options: dict[str, Any] = {} if buckets is None else {"buckets": buckets}
        self.response_latency = Histogram(
            "response_duration_seconds",
            "Time from request_started until the app handed the server the last of the "
            "body (background work excluded), by status code.",
            ["status"],
            namespace=namespace,
            registry=self.registry,
            **histogram_options,
        )
        self.latency = Histogram(
            "request_duration_seconds",
            "Time from request_started to request_finished (background work included), "
            "by status code.",
            ["status"],
            namespace=namespace,
            registry=self.registry,
            **histogram_options,
        )

    def record(self, sender: object, **kwargs: Unpack[RequestFinishedArgs]) -> None:
        """The ``request_finished`` receiver."""
        status, response_duration = kwargs["status"], kwargs["response_duration"]
        label = "none" if status is None else str(status)
        self.requests.labels(status=label).inc()
        if response_duration is not None:
            self.response_latency.labels(status=label).observe(response_duration)
        self.latency.labels(status=label).observe(kwargs["duration"])

    def connect(self, sender: Any = None) -> None:
        """Count requests (of *sender* only, if given).

        The receiver is held weakly: keep this object referenced (on the app, in the
        lifespan state) for as long as it should count.
        """
        request_finished.connect(self.record, sender=sender)

    def disconnect(self, sender: Any = None) -> None:
        """Stop counting; pass the same *sender* as to :meth:`connect`."""
        request_finished.disconnect(self.record, sender=sender)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and the content type to serve them with."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

"""Prometheus metrics the domain records (match latency per channel, index size and lag, queue depth, delivery
outcomes).

``prometheus_client`` is a plain instrumentation library, so the domain can record what it alone can see
(time spent per channel inside one match) without knowing about HTTP; ``api`` exposes them at ``/metrics``.
With several API processes (``pilotmatch serve --workers N``) ``PROMETHEUS_MULTIPROC_DIR`` is set and every
process's figures are collected together; gauges say how to combine them (per process, or the largest).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MATCH_SECONDS = Histogram(
    "pilotmatch_match_seconds",
    "Time spent in one match, by channel.",
    ["channel"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.5, 1.0),
)
DELIVERIES = Counter(
    "pilotmatch_webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"]
)
EMAILS = Counter("pilotmatch_email_digests_total", "E-mail digest sends by outcome.", ["outcome"])
NOTIFICATIONS = Counter("pilotmatch_notifications_total", "Notifications created.")
INDEX_ITEMS = Gauge(
    "pilotmatch_index_items", "Items in this process's indexes.", ["corpus"], multiprocess_mode="liveall"
)
SYNC_LAG = Gauge(
    "pilotmatch_change_log_lag",
    "Change-log entries written by other processes that this one has not applied yet.",
    multiprocess_mode="liveall",
)
QUEUE_DEPTH = Gauge(
    "pilotmatch_queue_depth",
    "Work waiting: webhook deliveries pending, and rows not yet matched for notifications.",
    ["queue"],
    multiprocess_mode="livemax",
)

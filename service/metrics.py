"""Prometheus metrics. Labels stay low-cardinality: route templates, kinds, codes, enterprise codes.

With several worker processes, set PROMETHEUS_MULTIPROC_DIR (`hj1321 serve --workers N` does) and
every process writes its samples there; /metrics then adds them up across workers.
"""

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("hj1321_http_requests_total", "HTTP requests answered",
                        ["route", "method", "status"])
HTTP_DURATION = Histogram("hj1321_http_request_duration_seconds", "Time to answer an HTTP request",
                          ["route", "method"], buckets=_LATENCY_BUCKETS)
RECORDS = Counter("hj1321_records_total",
                  "Records received, by verdict (accepted, duplicate, updated, rejected) and flag (late, reupload)",
                  ["kind", "outcome"])
RECORD_ERRORS = Counter("hj1321_record_errors_total", "Errors that rejected a record, by stable error code",
                        ["kind", "code"])
BATCH_RECORDS = Histogram("hj1321_batch_records", "Records per posted batch", ["kind"],
                          buckets=(1, 2, 5, 10, 25, 50, 100, 200, 300, 400, 500))
BACKFILL_DEFERRED = Counter("hj1321_backfill_deferred_total",
                            "补传 batches told to come back later so that live passes went first", ["kind"])
BACKFILL_WAIT = Histogram("hj1321_backfill_wait_seconds",
                          "Time a 补传 batch finding no place was held, by how it ended: room (a place freed), "
                          "no_room (none did: deferred) or beside_live (deferred: live batches were around)",
                          ["outcome"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0))
PHOTO_BYTES = Counter("hj1321_photo_bytes_total", "Bytes of photos newly stored", ["source"])
DB_POOL_IN_USE = Gauge("hj1321_db_pool_connections_in_use", "Database connections checked out of the pool",
                       multiprocess_mode="livesum")
REQUEST_BODY_BYTES_HELD = Gauge("hj1321_request_body_bytes_held",
                                "Bytes of request bodies held in memory until their requests are answered (past "
                                "HJ1321_MAX_BODY_BYTES_IN_FLIGHT a worker refuses larger bodies: 503 server_busy)",
                                multiprocess_mode="livesum")
DB_POOL_WAIT = Histogram("hj1321_db_pool_wait_seconds", "Time a request waited for a database connection",
                         buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0))
DATABASE_UP = Gauge("hj1321_database_up", "1 when the database answered the last scrape's ping, else 0",
                    multiprocess_mode="mostrecent")
DATABASE_READ_ONLY = Gauge("hj1321_database_read_only",
                           "1 when the database answered the last scrape's ping but takes no writes (a standby, "
                           "or made read-only): every batch is refused with 503, else 0",
                           multiprocess_mode="mostrecent")
EMERGENCY_VIOLATIONS = Counter("hj1321_emergency_violations_total",
                               "Movements received that broke a heavy-pollution alert rule or were a listed vehicle's "
                               "entry, by rule and enterprise (counted at receipt; a correction may count again)",
                               ["rule", "enterprise"])
AUDIT_ENTRIES = Counter("hj1321_audit_entries_total", "Audit entries of requests committed by the audit writer")
AUDIT_WRITE_FAILURES = Counter("hj1321_audit_write_failures_total",
                               "Failed attempts to commit a batch of audit entries (it is retried)")
LOG_LINES_DROPPED = Counter("hj1321_log_lines_dropped_total",
                            "Log lines dropped because standard error was not being read (journald or the container "
                            "runtime stuck, or its disk full) and the backlog was full")
MAINTENANCE_LAST_SUCCESS = Gauge("hj1321_maintenance_last_success_timestamp_seconds",
                                 "Unix time this worker last finished a maintenance round (partitions, retention)",
                                 multiprocess_mode="max")
RETENTION_REMOVED = Counter("hj1321_retention_removed_total", "Rows (and photos) removed by the retention purge",
                            ["what"])
ENTERPRISE_LAST_SEEN = Gauge("hj1321_enterprise_last_seen_timestamp_seconds",
                             "Unix time of the enterprise gateway's last authenticated request",
                             ["enterprise"], multiprocess_mode="max")
ENTERPRISE_CLOCK_SKEW = Gauge("hj1321_enterprise_clock_skew_seconds",
                              "Gateway clock minus server clock at the last heartbeat",
                              ["enterprise"], multiprocess_mode="mostrecent")


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus text format, summed over worker processes when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def count_batch(kind: str, outcome: Any) -> None:
    """Count a committed batch's records."""
    BATCH_RECORDS.labels(kind).observe(len(outcome.results))
    for name, value in outcome.counts.items():
        RECORDS.labels(kind, name).inc(value)
    if outcome.late:
        RECORDS.labels(kind, "late").inc(outcome.late)
    if outcome.reupload:
        RECORDS.labels(kind, "reupload").inc(outcome.reupload)
    for code, value in outcome.error_codes.items():
        RECORD_ERRORS.labels(kind, code).inc(value)
    if outcome.new_photo_bytes:
        PHOTO_BYTES.labels("inline").inc(outcome.new_photo_bytes)


def count_violations(enterprise: str, violations: dict[str, int]) -> None:
    for rule, count in violations.items():
        EMERGENCY_VIOLATIONS.labels(rule, enterprise).inc(count)


def every_metric_name() -> set[str]:
    """Names of the series the service exports (counters with _total, histograms with their suffixes)."""
    names = set()
    for metric in [value for value in globals().values() if isinstance(value, MetricWrapperBase)]:
        for family in metric.describe():
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum"))
            else:
                names.add(family.name)
    return names

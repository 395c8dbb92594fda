"""Metrics, request ids and the JSON access log, seen from outside."""

import base64
import io
import json
import logging
import threading
import time

from prometheus_client import REGISTRY

from service.metrics import every_metric_name
from service.observability import JsonFormatter, StderrHandler
from tests.factories import batch, movement, png_bytes, sha256_hex


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_records_are_counted_by_kind_and_outcome(client, plant):
    before = {o: sample("hj1321_records_total", kind="movements", outcome=o)
              for o in ("accepted", "duplicate", "rejected", "late", "reupload")}
    errors_before = sample("hj1321_record_errors_total", kind="movements", code="invalid_code")
    stored = movement()
    await client.post("/api/v1/movements", json=batch(plant, stored), headers=plant.auth)
    await client.post("/api/v1/movements", headers=plant.auth, json=batch(
        plant, stored, movement(plateColor="9"), movement(passTime="2026-01-01 00:00:00", reupload=True)))
    after = {o: sample("hj1321_records_total", kind="movements", outcome=o) for o in before}
    assert {o: after[o] - before[o] for o in before} == {"accepted": 2, "duplicate": 1, "rejected": 1,
                                                         "late": 1, "reupload": 1}
    assert sample("hj1321_record_errors_total", kind="movements", code="invalid_code") - errors_before == 1


async def test_requests_are_counted_by_route_template(client, plant):
    data = png_bytes()
    labels = {"route": "/api/v1/photos/{sha256}", "method": "PUT", "status": "201"}
    before = sample("hj1321_http_requests_total", **labels)
    bytes_before = sample("hj1321_photo_bytes_total", source="upload")
    await client.put(f"/api/v1/photos/{sha256_hex(data)}", content=data,
                     headers={**plant.auth, "Content-Type": "image/png"})
    assert sample("hj1321_http_requests_total", **labels) - before == 1
    assert sample("hj1321_photo_bytes_total", source="upload") - bytes_before == len(data)
    assert sample("hj1321_http_request_duration_seconds_count", route=labels["route"], method="PUT") >= 1


async def test_rejected_envelopes_count_no_records(client, plant, other_plant):
    before = sample("hj1321_records_total", kind="movements", outcome="accepted")
    response = await client.post("/api/v1/movements", json=batch(other_plant, movement()), headers=plant.auth)
    assert response.status_code == 403
    assert sample("hj1321_records_total", kind="movements", outcome="accepted") == before
    assert sample("hj1321_http_requests_total", route="/api/v1/movements", method="POST", status="403") >= 1


async def test_enterprise_last_seen_and_skew_are_exported(client, plant):
    await client.post("/api/v1/heartbeat", json={"enterpriseCode": plant.code, "sentAt": "2026-11-20 08:00:00"},
                      headers=plant.auth)
    assert sample("hj1321_enterprise_last_seen_timestamp_seconds", enterprise=plant.code) > 1.7e9
    assert sample("hj1321_enterprise_clock_skew_seconds", enterprise=plant.code) < -3600


async def test_metrics_endpoint_needs_no_key_and_speaks_prometheus(client):
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert "# TYPE hj1321_records_total counter" in response.text
    assert "hj1321_db_pool_connections_in_use" in response.text
    assert "hj1321_database_up 1.0" in response.text


def test_every_metric_name_lists_the_series():
    names = every_metric_name()
    assert {"hj1321_records_total", "hj1321_http_request_duration_seconds_bucket",
            "hj1321_enterprise_last_seen_timestamp_seconds"} <= names


async def test_request_id_is_returned_and_echoed(client):
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/healthz", headers={"X-Request-ID": "gw-42.a_b"})
    assert echoed.headers["x-request-id"] == "gw-42.a_b"
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id\\with junk"})
    assert unsafe.headers["x-request-id"] != "bad id\\with junk"


async def test_one_json_log_line_per_request_without_secrets(client, plant, caplog):
    caplog.set_level(logging.INFO, logger="hj1321.access")
    data = png_bytes()
    record = movement(passPhoto="data:image/png;base64," + base64.b64encode(data).decode())
    response = await client.post("/api/v1/movements", json=batch(plant, record, movement(plateColor="9")),
                                 headers={**plant.auth, "X-Request-ID": "req-1"})
    lines = [r for r in caplog.records if r.name == "hj1321.access" and r.fields["requestId"] == "req-1"]
    assert len(lines) == 1
    fields = lines[0].fields
    assert fields["enterprise"] == plant.code and fields["route"] == "/api/v1/movements"
    assert fields["status"] == response.status_code == 200 and fields["durationMs"] > 0
    assert fields["records"] == {"received": 2, "accepted": 1, "duplicates": 0, "updated": 0, "rejected": 1}
    text = JsonFormatter().format(lines[0])
    assert json.loads(text)["requestId"] == "req-1"
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert plant.key not in everything and plant.key.split("_", 1)[1] not in everything
    assert base64.b64encode(data).decode()[:40] not in everything


def test_a_field_never_replaces_what_the_line_says_of_itself():
    record = logging.LogRecord("hj1321.test", logging.WARNING, __file__, 1, "the message", None, None)
    record.fields = {"pid": 1, "msg": "another", "level": "debug", "enterprise": "E1"}
    line = json.loads(JsonFormatter().format(record))
    assert (line["pid"], line["msg"], line["level"], line["enterprise"]) == (record.process, "the message", "warning",
                                                                             "E1")


def test_a_log_reader_that_stops_reading_never_makes_the_caller_wait_and_drops_are_said():
    class Unread(io.StringIO):
        """Standard error as a full pipe nobody reads: a write waits until it is read again."""

        def __init__(self) -> None:
            super().__init__()
            self.writing, self.read_again = threading.Event(), threading.Event()

        def write(self, text: str) -> int:
            self.writing.set()
            self.read_again.wait()
            return super().write(text)

    stream = Unread()
    handler = StderrHandler(backlog=3, stream=stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("hj1321.test-unread")
    logger.addHandler(handler)
    logger.propagate = False
    dropped_before = REGISTRY.get_sample_value("hj1321_log_lines_dropped_total") or 0
    try:
        logger.warning("line 0")
        assert stream.writing.wait(5)  # the writer holds line 0, waiting on the stream
        started = time.monotonic()
        for number in range(1, 10):
            logger.warning("line %d", number)
        assert time.monotonic() - started < 1  # the caller (an event loop) never waited for the reader
        stream.read_again.set()
        handler.flush()
        logger.warning("line 10")  # room again: written as the others
        handler.flush()
    finally:
        logger.removeHandler(handler)
        handler.close()
    written = [json.loads(line) for line in stream.getvalue().splitlines()]
    # Three lines waited (the backlog); the six after them were dropped, and the next line written says so.
    assert [line["msg"] for line in written] == ["line 0", "log lines dropped: standard error was not being read",
                                                 "line 1", "line 2", "line 3", "line 10"]
    assert written[1]["dropped"] == 6 and written[1]["level"] == "warning"
    assert REGISTRY.get_sample_value("hj1321_log_lines_dropped_total") - dropped_before == 6

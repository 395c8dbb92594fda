from datetime import datetime, timedelta

import pytest

from service.ingest.content import content_digest
from service.ingest.kinds import MOVEMENTS
from service.ingest.payloads import BEIJING, MovementIn
from service.ingest.rules import (
    RuleContext,
    is_late,
    months_before,
    movement_errors,
    movement_missing,
    movement_warnings,
    vin_check_digit,
)
from tests.factories import movement

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=BEIJING)
CTX = RuleContext(received_at=NOW, timeliness_window=timedelta(minutes=10), future_tolerance=timedelta(minutes=5),
                  retention_months=24)


@pytest.mark.parametrize("vin,digit", [
    ("1M8GDM9AXKP042788", "X"),  # the ISO 3779 textbook example
    ("LZZ1BLSF2KD123456", "2"),
    ("LFWSRXRJ51MA00001", "5"),
    ("11111111111111111", "1"),
])
def test_vin_check_digit(vin, digit):
    assert vin_check_digit(vin) == digit


def test_vin_warning_names_both_digits():
    record = MovementIn.model_validate(movement(vin="LZZ1BLSF7KD123456"))
    assert movement_warnings(record) == [{
        "field": "vin", "code": "vin_check_digit",
        "message": "车辆识别代号 vin check digit (9th character) is 7, GB 16735 gives 2"}]


@pytest.mark.parametrize("moment,months,expected", [
    (datetime(2026, 3, 31, 10), 1, datetime(2026, 2, 28, 10)),
    (datetime(2024, 3, 31), 1, datetime(2024, 2, 29)),
    (datetime(2026, 11, 22), 24, datetime(2024, 11, 22)),
    (datetime(2026, 1, 15), 1, datetime(2025, 12, 15)),
])
def test_months_before(moment, months, expected):
    assert months_before(moment, months) == expected


@pytest.mark.parametrize("pass_time,codes", [
    (NOW + timedelta(minutes=5), []),
    (NOW + timedelta(minutes=5, seconds=1), ["future_time"]),
    (datetime(2024, 11, 22, 12, 0, tzinfo=BEIJING), []),
    (datetime(2024, 11, 22, 11, 59, 59, tzinfo=BEIJING), ["beyond_retention"]),
])
def test_pass_time_windows(pass_time, codes):
    record = MovementIn.model_validate(movement(passTime=pass_time.isoformat()))
    assert [e["code"] for e in movement_errors(record, CTX)] == codes


def test_late_is_measured_from_the_first_receipt():
    pass_time = NOW - timedelta(minutes=30)
    assert is_late(pass_time, NOW, CTX) is True
    assert is_late(pass_time, pass_time + timedelta(minutes=10), CTX) is False
    assert is_late(pass_time, pass_time + timedelta(minutes=10, seconds=1), CTX) is True


def test_either_photo_19_or_20_completes_a_movement():
    with_licence = MovementIn.model_validate(movement(listPhoto=None, licensePhoto=f"sha256:{'1' * 64}"))
    with_neither = MovementIn.model_validate({k: v for k, v in movement().items() if k != "listPhoto"})
    assert movement_missing(with_licence) == []
    assert movement_missing(with_neither) == ["listPhoto", "licensePhoto"]


def test_content_hash_ignores_the_reupload_flag_only():
    row = MovementIn.model_validate(movement()).model_dump()
    same = {**row, "reupload": not row["reupload"]}
    other = {**row, "goods_amount": 1.0}
    items = MOVEMENTS.content_items
    assert content_digest(items, row) == content_digest(items, same)
    assert content_digest(items, row) != content_digest(items, other)

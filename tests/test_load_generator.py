from collections import Counter

from loadtests.generator import RecordGenerator
from service.ingest.payloads import MovementIn, validate_record
from service.ingest.rules import RuleContext, movement_errors, movement_warnings


def test_generated_records_are_valid_and_realistic():
    generator = RecordGenerator(seed=7, enterprise_code="91130203MA0EXAMPLE")
    records = generator.batch(2000)["records"]
    models = [validate_record(MovementIn, record) for record in records]
    assert all(isinstance(m, MovementIn) for m in models)
    assert all(movement_warnings(m) == [] for m in models)  # VIN check digits hold
    stages = Counter(r["emissionStandard"] for r in records)
    assert 0.45 < stages["6"] / 2000 < 0.65 and 0.12 < stages["D"] / 2000 < 0.26
    assert len({r["recordId"] for r in records}) == 2000
    assert all(r["plateColor"] == "6" for r in records if r["emissionStandard"] == "D")


def test_generator_is_reproducible_for_a_seed():
    first = RecordGenerator(seed=3, enterprise_code="91130203MA0EXAMPLE").batch(5)
    second = RecordGenerator(seed=3, enterprise_code="91130203MA0EXAMPLE").batch(5)
    strip = [{k: v for k, v in r.items() if k != "passTime"} for r in first["records"]]
    assert strip == [{k: v for k, v in r.items() if k != "passTime"} for r in second["records"]]


def test_backfill_records_are_old_flagged_and_within_retention():
    from datetime import UTC, datetime, timedelta

    batch = RecordGenerator(seed=1, enterprise_code="91130203MA0EXAMPLE").backfill_batch(50, days_ago=30)
    ctx = RuleContext(received_at=datetime.now(UTC), timeliness_window=timedelta(minutes=10),
                      future_tolerance=timedelta(minutes=5), retention_months=24)
    for record in batch["records"]:
        model = validate_record(MovementIn, record)
        assert isinstance(model, MovementIn) and model.reupload and movement_errors(model, ctx) == []

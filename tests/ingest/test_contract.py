"""schemas/ (the published contract) and the pydantic models on the hot path agree on every payload."""

import copy
import json

import pytest

from service.contract import BATCH_SCHEMAS, SCHEMAS_DIR, bundled, validator
from service.ingest.kinds import KINDS
from service.ingest.payloads import HeartbeatIn, ManifestIn, validate_record
from service.samples import documents
from tests.factories import inplant_vehicle, movement, nonroad_machinery, volume

RECORD_SCHEMAS = {
    "movements": "movement.record.json",
    "inplant-vehicles": "inplant-vehicle.record.json",
    "nonroad-machinery": "nonroad-machinery.record.json",
    "clean-transport-volumes": "clean-transport-volume.record.json",
}

BASES = {"movements": movement(), "inplant-vehicles": inplant_vehicle(),
         "nonroad-machinery": nonroad_machinery(), "clean-transport-volumes": volume()}

# Values every item is tried with: wrong types, blanks, control characters, overlong strings.
PROBES = [None, "", 0, 1.5, True, [], {}, "x" * 300, "\u0000", "0", "1", "D", "X", "Z", "abc", " 1"]

SPECIFIC = {
    "movements": [
        {"plateNo": "冀B12345挂"}, {"plateNo": "冀B1234挂"}, {"plateNo": "冀BD12345"}, {"plateNo": "冀I12345"},
        {"plateNo": "冀B123456"}, {"plateNo": "冀B1234567"}, {"plateNo": "XB12345"}, {"plateNo": "京A12345警"},
        {"vin": "LZZ1BLSF2KD12345Q"}, {"vin": "lzz1blsf2kd123456"}, {"vin": "LZZ1BLSF2KD1234567"},
        {"vehicleType": "H11"}, {"vehicleType": "A11"}, {"vehicleType": "H1"}, {"vehicleType": "Q111"},
        {"passTime": "2026-11-20T08:01:02+08:00"}, {"passTime": "2026-11-20T00:01:02Z"},
        {"passTime": "2026-11-20T00:01:02.123Z"}, {"passTime": "2026-11-20T08:01:02"},
        {"passTime": "2026/11/20 08:01:02"}, {"passTime": "2026-11-20 8:01:02"}, {"passTime": "20261120080102"},
        {"passTime": "2026-11-20 24:00:00"}, {"passTime": "2026-11-20t08:01:02z"},
        {"registerDate": "2021-02-29"}, {"registerDate": "2020-02-29"}, {"registerDate": "2021-3-15"},
        {"goodsAmount": 0}, {"goodsAmount": 999.9}, {"goodsAmount": 1000}, {"goodsAmount": -0.1},
        {"goodsAmount": 34.65}, {"goodsAmount": "34.6"},
        {"seq": 0}, {"seq": -1}, {"seq": 2**63}, {"seq": 3.0}, {"seq": 3.5}, {"seq": "3"},
        {"reupload": False}, {"reupload": "true"}, {"reupload": 1},
        {"passPhoto": "sha256:" + "A" * 64}, {"passPhoto": "sha256:" + "a" * 63},
        {"passPhoto": "data:image/png;base64,iVBORw0KGgo="}, {"passPhoto": "data:image/gif;base64,R0lG"},
        {"passPhoto": "http://example.com/a.jpg"},
        {"recordId": "a" * 64}, {"recordId": "a" * 65}, {"recordId": "有中文"}, {"recordId": "a b"},
        {"gateNo": "123456789"}, {"gateNo": "A-1"}, {"goodsName": "空车"}, {"goodsName": "煤" * 33},
        {"fleetName": "车队\n"}, {"fleetName": "车队\t"}, {"recordId": "R1\n"}, {"plateNo": "冀B12345\n"},
        {"extraVendorField": {"nested": 1}},
    ],
    "inplant-vehicles": [
        {"plateNo": None}, {"plateNo": "冀B00042D"}, {"active": False}, {"active": "false"},
        {"productionDate": "2023-13-01"}, {"envRegCode": "a" * 33}, {"envRegCode": "130203_NB"},
    ],
    "nonroad-machinery": [
        {"plateNo": "厂内001"}, {"plateNo": "x" * 17}, {"pin": "LGZL50A0422080O42"}, {"pin": "lgzl50a0422080042"},
        {"machineryType": "7"}, {"emissionStandard": "D"},
    ],
    "clean-transport-volumes": [
        {"mode": "pipe_belt"}, {"mode": "road"}, {"tonnes": 10_000_000}, {"tonnes": 10_000_000.5},
        {"date": "2026-11-20"},
    ],
}

# Rules JSON Schema has no words for; the service enforces them (see rules.py and payloads.py).
SCHEMA_CANNOT_SAY = {
    "movements": [{"passTime": "2026-02-30 10:00:00"}, {"passTime": "2026-04-31T10:00:00+08:00"}],
}


def cases():
    for kind, base in BASES.items():
        properties = json.loads((SCHEMAS_DIR / RECORD_SCHEMAS[kind]).read_text())["properties"]
        for field in properties:
            for probe in PROBES:
                yield kind, {**base, field: probe}
            yield kind, {k: v for k, v in base.items() if k != field}
        for change in SPECIFIC[kind]:
            yield kind, {**base, **change}
        yield kind, base
    for name, kind in [("movements.valid.json", "movements"), ("movements.invalid.json", "movements"),
                       ("inplant-vehicles.valid.json", "inplant-vehicles"),
                       ("nonroad-machinery.valid.json", "nonroad-machinery")]:
        for record in documents()[name]["records"]:
            yield kind, record
    for kind in BASES:
        for not_an_object in ("text", 5, None, [], [BASES[kind]]):
            yield kind, not_an_object


ALL_CASES = list(cases())


def test_there_are_enough_cases_to_mean_something():
    assert len(ALL_CASES) > 800
    verdicts = [isinstance(validate_record(KINDS[k].model, r), list) for k, r in ALL_CASES]
    assert 200 < sum(verdicts) < len(verdicts) - 100  # plenty of both verdicts


def test_schemas_and_models_accept_and_reject_the_same_records():
    disagreements = []
    for kind, record in ALL_CASES:
        schema_accepts = validator(RECORD_SCHEMAS[kind]).is_valid(copy.deepcopy(record))
        model_accepts = not isinstance(validate_record(KINDS[kind].model, record), list)
        if schema_accepts != model_accepts:
            disagreements.append((kind, record, schema_accepts, model_accepts))
    assert disagreements == []


def test_what_the_schema_cannot_say_the_models_still_reject():
    for kind, changes in SCHEMA_CANNOT_SAY.items():
        for change in changes:
            record = {**BASES[kind], **change}
            assert validator(RECORD_SCHEMAS[kind]).is_valid(record)
            assert isinstance(validate_record(KINDS[kind].model, record), list)


@pytest.mark.parametrize("kind", sorted(BATCH_SCHEMAS))
def test_batch_schemas_bound_the_envelope(kind):
    batch_validator = validator(BATCH_SCHEMAS[kind])
    base = BASES[kind]
    assert batch_validator.is_valid({"enterpriseCode": "91130203MA0EXAMPLE", "records": [base]})
    assert not batch_validator.is_valid({"enterpriseCode": "91130203MA0EXAMPLE", "records": []})
    assert not batch_validator.is_valid({"enterpriseCode": "91130203MA0EXAMPLE", "records": [base] * 501})
    assert not batch_validator.is_valid({"enterpriseCode": "bad", "records": [base]})


def test_bundled_schema_has_no_references_left():
    text = json.dumps(bundled("movements.batch.json"), ensure_ascii=False)
    assert "$ref" not in text and "\"enum\"" in text and "国VI" in text


def test_code_tables_label_every_code():
    from service.codes import EMISSION_STANDARD, PLATE_COLOR

    assert EMISSION_STANDARD.label("6") == "国VI" and EMISSION_STANDARD.label("D") == "电动/新能源"
    assert PLATE_COLOR.label("6") == "黄绿 (新能源大型车)"
    assert EMISSION_STANDARD.describe() == "0-6, D, X"


def _manifest(**barrier):
    return {"enterpriseCode": "91130203MA0EXAMPLE", "date": "2026-11-20",
            "barriers": [{"gateNo": "1", "barrierNo": "01", "count": 3, **barrier}]}


DOCUMENTS = [
    ("heartbeat.json", HeartbeatIn, {"enterpriseCode": "91130203MA0EXAMPLE", "sentAt": "2026-11-20 08:00:00"}),
    ("heartbeat.json", HeartbeatIn, {"enterpriseCode": "91130203MA0EXAMPLE", "sentAt": "0001-01-01T00:00:00Z"}),
    ("heartbeat.json", HeartbeatIn, {"enterpriseCode": "91130203MA0EXAMPLE"}),
    ("heartbeat.json", HeartbeatIn, {"enterpriseCode": "short", "sentAt": "2026-11-20 08:00:00"}),
    ("manifest.json", ManifestIn, _manifest()),
    ("manifest.json", ManifestIn, _manifest(recordIds=["R1", "R2"])),
    ("manifest.json", ManifestIn, _manifest(recordIds=["R 1"])),
    ("manifest.json", ManifestIn, _manifest(count=-1)),
    ("manifest.json", ManifestIn, _manifest(count=2.0)),
    ("manifest.json", ManifestIn, _manifest(count="3")),
    ("manifest.json", ManifestIn, _manifest(gateNo="1-1")),
    ("manifest.json", ManifestIn, {**_manifest(), "barriers": []}),
    ("manifest.json", ManifestIn, {**_manifest(), "date": "2026-02-30"}),
]


@pytest.mark.parametrize("schema,model,document", DOCUMENTS)
def test_heartbeat_and_manifest_schemas_agree_with_the_models(schema, model, document):
    by_schema = not list(validator(schema).iter_errors(document))
    by_model = not isinstance(validate_record(model, document), list)
    assert by_schema == by_model, (schema, document)

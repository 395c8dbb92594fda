"""Content hashes: RFC 8785 over the items that have a value, stable across spellings and releases."""

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import rfc8785

from service.ingest.content import content_digest
from service.ingest.kinds import MOVEMENTS
from service.ingest.payloads import MovementIn, validate_record
from tests.factories import batch, movement

# Pinned documents (fixed dates, placeholder photo hashes): vectors for the hash recipe, not examples.
GOLDEN_DOCUMENTS = Path(__file__).resolve().parent.parent / "golden"
BEIJING = timezone(timedelta(hours=8))

# Pinned: a change to how content is hashed would turn every 补传 resend into a new version.
GOLDEN = {
    "movements.valid.json": ["sha256:34173f3d15ef9051177289ce3817123a3117070687f1989cd235e64bee9fa565",
                             "sha256:442f8b6f66b682c4461908435ffa73f7c23806188ce123044f85e9dff11afb3d"],
    "inplant-vehicles.valid.json": ["sha256:0688fb94c87a6f5fb852ceea0dda468a7e6b4aa23b8804491954d0f528a89bcf"],
    "nonroad-machinery.valid.json": ["sha256:f81787dfb41ba4a385d31d20443bc5114ef5d3f5b992c4d4ce35b209c2091ccb"],
}


def independent_hash(record: dict) -> str:
    """The contract's recipe, followed by hand with the reference canonicaliser."""
    content = {}
    for key, value in record.items():
        if value is None or value == "" or key == "reupload":
            continue
        if key == "passTime":
            moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).astimezone(UTC)
            value = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        content[key] = value
    if "envRegCode" in record and "active" not in content:
        content["active"] = True
    return "sha256:" + hashlib.sha256(rfc8785.dumps(content)).hexdigest()


@pytest.mark.parametrize("name", sorted(GOLDEN))
async def test_the_hash_of_each_shared_sample_is_pinned_and_follows_the_recipe(client, plant, name):
    document = json.loads((GOLDEN_DOCUMENTS / name).read_text(encoding="utf-8"))
    kind = name.split(".")[0]
    response = await client.post(f"/api/v1/{kind}", json={**document, "enterpriseCode": plant.code},
                                 headers=plant.auth)
    hashes = [result["contentHash"] for result in response.json()["results"]]
    assert hashes == [independent_hash(record) for record in document["records"]]
    assert hashes == GOLDEN[name]


async def test_spelling_does_not_make_a_new_version(client, plant):
    sent = movement(passTime="2026-11-20 08:01:02", goodsAmount=30.0)
    del sent["vehicleModel"]
    first = (await client.post("/api/v1/movements", json=batch(plant, sent), headers=plant.auth)).json()
    reordered = {key: sent[key] for key in reversed(list(sent))}
    respellings = [
        {**reordered, "passTime": "2026-11-20T00:01:02Z", "reupload": True},  # UTC, a 补传 flag
        {**sent, "passTime": "2026-11-20T08:01:02.000+08:00", "vehicleModel": None},  # offset, null
        {**sent, "vehicleModel": "", "goodsAmount": 30},  # empty string, an integer for 30.0
    ]
    for record in respellings:
        answer = (await client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth)).json()
        assert answer["results"][0]["status"] == "duplicate", (record, answer)
        assert answer["results"][0]["contentHash"] == first["results"][0]["contentHash"]


async def test_new_content_is_a_new_version_with_a_new_hash(client, plant):
    sent = movement()
    first = (await client.post("/api/v1/movements", json=batch(plant, sent), headers=plant.auth)).json()
    changed = (await client.post("/api/v1/movements", json=batch(plant, {**sent, "goodsAmount": 12.5}),
                                 headers=plant.auth)).json()
    assert changed["results"][0]["status"] == "updated" and changed["results"][0]["version"] == 2
    assert changed["results"][0]["contentHash"] != first["results"][0]["contentHash"]


def test_a_new_optional_item_or_another_field_order_leaves_hashes_alone():
    record = validate_record(MovementIn, movement(vehicleModel=None))
    assert not isinstance(record, list)
    values = dict(record.__dict__)
    release_two = (("futureItem", "future_item"), *reversed(MOVEMENTS.content_items))
    assert content_digest(release_two, {**values, "future_item": None}) == content_digest(MOVEMENTS.content_items,
                                                                                          values)

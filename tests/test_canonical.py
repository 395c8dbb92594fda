"""Our canonical JSON is RFC 8785's: byte for byte the reference implementation's."""

import json
from pathlib import Path

import pytest
import rfc8785

from service.canonical import canonical_json

# Pinned documents: vectors for canonicalisation, not examples (service/samples.py has those).
GOLDEN_DOCUMENTS = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("value", [
    {"b": 30.0, "a": 1, "c": "冀B12345"}, {"x": [0.1, 34.65, 999.9, 1e-7, 1e21, -0.0, 10_000_000.5, 2**53 - 1]},
    {"esc": "\u0001\u001f\"\\/\u007f\u2028"}, {"nested": {"z": None, "y": True, "x": [{"b": 1, "a": 2}]}},
    {"tonnes": 3200.5, "seq": 12}, {},
])
def test_canonical_json_is_rfc8785(value):
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("sample", sorted(GOLDEN_DOCUMENTS.glob("*.json")), ids=lambda p: p.name)
def test_every_sample_canonicalises_as_the_reference_does(sample):
    document = json.loads(sample.read_text(encoding="utf-8"))
    assert canonical_json(document) == rfc8785.dumps(document)


def test_integers_past_the_json_double_range_keep_their_digits():
    # JCS leaves integers beyond 2**53 undefined (the reference refuses them); a seq may be that big.
    assert canonical_json({"seq": 2**63 - 1}) == b'{"seq":9223372036854775807}'

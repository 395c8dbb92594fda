"""The rule tables of heavy-pollution alerts, as data: schemas/emergency/*.json, one file per source and
version. A province's stricter variant is a new file with its "regions"; the file that applies to an
enterprise is the most specific region match in force on the day (national files list no region)."""

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from service.config import SCHEMAS_DIR

GRADES = ("A", "leading", "B", "C", "D", "none")
LEVELS = ("yellow", "orange", "red")


@dataclass(frozen=True)
class Ban:
    """What a plant may not use during an alert: heavy trucks of stage <= max_stage (gas: max_gas_stage),
    or no road transport at all."""

    all_road: bool
    max_stage: str | None
    max_gas_stage: str | None
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"maxStage": self.max_stage, "maxGasStage": self.max_gas_stage, "allRoadTransport": self.all_road}


@cache
def rule_sets() -> tuple[dict[str, Any], ...]:
    loaded = []
    for path in sorted((SCHEMAS_DIR / "emergency").glob("*.json")):
        loaded.append(json.loads(path.read_text(encoding="utf-8")))
    return tuple(loaded)


def rule_set_for(region_code: str, day: date) -> dict[str, Any]:
    """The rule table for an enterprise of this region on this day."""
    candidates = []
    for rules in rule_sets():
        if date.fromisoformat(rules["validFrom"]) > day:
            continue
        regions = rules.get("regions") or [""]
        matched = [len(prefix) for prefix in regions if region_code.startswith(prefix)]
        if matched:
            candidates.append((max(matched), rules["validFrom"], rules))
    if not candidates:
        raise LookupError(f"no emergency rule table in force for region {region_code} on {day}")
    return max(candidates, key=lambda c: (c[0], c[1]))[2]


def ban_for(rules: dict[str, Any], *, grade: str, measure: int | None) -> Ban | None:
    """The ban on a plant of this grade under an alert with this measure code; None when nothing is banned."""
    treatment = rules["grades"][grade]
    if treatment == "none":
        return None
    if treatment == "stop":
        return Ban(all_road=True, max_stage=None, max_gas_stage=None, text=rules["stop"]["text"])
    rule = rules["measures"][str(measure)] if measure is not None else rules["default"]
    if rule.get("stop"):
        return Ban(all_road=True, max_stage=None, max_gas_stage=None, text=rule["text"])
    return Ban(all_road=False, max_stage=rule["maxStage"], max_gas_stage=rule["maxGasStage"], text=rule["text"])

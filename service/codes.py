"""The code tables of the record profile, loaded once from schemas/codes/ (the published contract)."""

import json
from dataclasses import dataclass
from functools import cache

from service.config import SCHEMAS_DIR


@dataclass(frozen=True)
class CodeTable:
    name: str
    title: str
    labels: dict[str, str]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.labels)

    def label(self, code: str | None) -> str | None:
        return None if code is None else self.labels.get(code)

    def describe(self) -> str:
        """The codes as a reader wants them in an error: runs of digits folded, e.g. "0-6, D, X"."""
        parts: list[str] = []
        run: list[str] = []
        for code in (*self.codes, ""):
            if len(code) == 1 and code.isdigit() and (not run or int(code) == int(run[-1]) + 1):
                run.append(code)
                continue
            if run:
                parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ", ".join(run))
                run = []
            if len(code) == 1 and code.isdigit():
                run = [code]
            elif code:
                parts.append(code)
        return ", ".join(parts)


@cache
def code_table(name: str) -> CodeTable:
    document = json.loads((SCHEMAS_DIR / "codes" / f"{name}.json").read_text(encoding="utf-8"))
    labels = document["x-labels"]
    if list(labels) != document["enum"]:
        raise ValueError(f"schemas/codes/{name}.json: enum and x-labels disagree")
    return CodeTable(name=name, title=document["title"], labels=labels)


PLATE_COLOR = code_table("plate-color")
VEHICLE_TYPE_PREFIX = code_table("vehicle-type-prefix")
FUEL_TYPE = code_table("fuel-type")
EMISSION_STANDARD = code_table("emission-standard")
USE_NATURE = code_table("use-nature")
MACHINERY_TYPE = code_table("machinery-type")
DIRECTION = code_table("direction")
NETWORK_STATUS = code_table("network-status")
CLEAN_TRANSPORT_MODE = code_table("clean-transport-mode")

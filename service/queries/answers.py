"""Stored records as the bureau reads them: each kind's items under their JSON keys (built from the
ingest model, so a new item appears here by itself), then what the service knows of the record."""

import types
import typing
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import Field, create_model

from service.answers import Answer, Issue
from service.ingest.kinds import INPLANT_VEHICLES, MOVEMENTS, NONROAD_MACHINERY, RecordKind
from service.ingest.payloads import ITEM_NAMES


def _json_type(annotation: Any) -> Any:
    """The JSON type an item is read back as: times and dates as ISO strings, amounts as numbers."""
    while typing.get_origin(annotation) in (typing.Annotated, typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if annotation in (datetime, date):
        return str
    return float if annotation is Decimal else annotation


def stored_record(kind: RecordKind, name: str) -> Any:
    """The model of a kind's stored records (typed Any: a class made at import, subclassed below)."""
    fields: dict[str, Any] = {"id": (int, Field(description="the service's id of the record")),
                              "enterpriseCode": (str, ...)}
    for field_name, field in kind.model.model_fields.items():
        key = field.alias or field_name
        fields[key] = (_json_type(field.annotation) | None, Field(description=ITEM_NAMES.get(key)))
    fields.update(
        receivedAt=(str, Field(description="when this version was received")),
        firstReceivedAt=(str, Field(description="when the first version was received")),
        version=(int, Field(description="1 for the first version; a correction adds one")),
        contentHash=(str, Field(description="sha256 of the canonical content (RFC 8785), the receipt")),
        warnings=(list[Issue], ...),
        missingItems=(list[str], Field(description="items of Appendix C the record lacks")),
        complete=(bool, Field(description="every item and photo present, no warning")),
    )
    if kind.reports_late:
        fields["late"] = (bool, Field(description="received later than the timeliness window after passTime"))
    return create_model(name, __base__=Answer, **fields)


class StoredMovement(stored_record(MOVEMENTS, "MovementItems")):  # type: ignore[misc]
    """进出厂运输车辆记录 as stored: the items of Appendix C, then the receipt and what is missing."""


class StoredInplantVehicle(stored_record(INPLANT_VEHICLES, "InplantVehicleItems")):  # type: ignore[misc]
    """厂内运输车辆台账 entry as stored."""


class StoredNonroadMachine(stored_record(NONROAD_MACHINERY, "NonroadMachineItems")):  # type: ignore[misc]
    """非道路移动机械台账 entry as stored."""


class EnterpriseSeen(Answer):
    code: str
    name: str
    regionCode: str
    industry: str
    lastSeenAt: str | None = Field(description="when its gateway was last heard from")

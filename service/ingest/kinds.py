"""The four record kinds a gateway posts, each bound to its model, rules and tables.

One mechanism (validate, check, dedupe, version) serves all four; what differs lives here.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Table
from sqlmodel import SQLModel

from service.ingest import rules
from service.ingest.models import (
    CleanTransportVolume,
    CleanTransportVolumeVersion,
    InplantVehicle,
    InplantVehicleVersion,
    Movement,
    MovementKey,
    MovementVersion,
    NonroadMachinery,
    NonroadMachineryVersion,
)
from service.ingest.payloads import (
    BEIJING,
    CleanTransportVolumeIn,
    InplantVehicleIn,
    MovementIn,
    NonroadMachineryIn,
    RecordIn,
)

Issues = list[dict[str, str]]


def _no_warnings(record: Any) -> Issues:
    return []


def _nothing_derived(row: dict[str, Any], first_received_at: datetime, ctx: rules.RuleContext) -> None:
    return None


def _movement_derived(row: dict[str, Any], first_received_at: datetime, ctx: rules.RuleContext) -> None:
    row["pass_date"] = row["pass_time"].astimezone(BEIJING).date()
    row["late"] = rules.is_late(row["pass_time"], first_received_at, ctx)


@dataclass(frozen=True)
class RecordKind:
    name: str  # the URL segment and the metrics label
    key_field: str  # JSON key of the idempotency key
    key_column: str
    model: type[RecordIn]
    table_model: type[SQLModel]
    version_model: type[SQLModel]
    version_fk: str  # the version table's reference to the current row
    photo_fields: tuple[tuple[str, str], ...]  # (JSON key, column)
    errors: Callable[[Any, rules.RuleContext], Issues]
    missing: Callable[[Any], list[str]]
    warnings: Callable[[Any], Issues] = _no_warnings
    # Columns computed from the row and the first receipt time (again when a correction arrives).
    derive: Callable[[dict[str, Any], datetime, rules.RuleContext], None] = _nothing_derived
    reports_late: bool = False
    day_column: str | None = None  # the Beijing day a record counts on, for the day statistics
    hash_excludes: frozenset[str] = field(default_factory=frozenset)
    # A kind partitioned by month of its day column keeps its natural key in a table of its own.
    key_model: type[SQLModel] | None = None

    @cached_property
    def content_items(self) -> tuple[tuple[str, str], ...]:
        """(JSON name, attribute) of every item that makes up the record's content hash."""
        return tuple((field.alias or name, name) for name, field in self.model.model_fields.items()
                     if name not in self.hash_excludes)

    @property
    def partitioned(self) -> bool:
        """Kept in monthly partitions of its day column (partitions.py), its natural key in key_model's table."""
        return self.key_model is not None

    @property
    def table(self) -> Table:
        return self.table_model.__table__  # type: ignore[attr-defined,no-any-return]

    @property
    def version_table(self) -> Table:
        return self.version_model.__table__  # type: ignore[attr-defined,no-any-return]


MOVEMENTS = RecordKind(
    name="movements", key_field="recordId", key_column="record_id", model=MovementIn,
    table_model=Movement, version_model=MovementVersion, version_fk="movement_id",
    photo_fields=(("passPhoto", "pass_photo"), ("listPhoto", "list_photo"), ("licensePhoto", "license_photo")),
    errors=rules.movement_errors, missing=rules.movement_missing, warnings=rules.movement_warnings,
    derive=_movement_derived, reports_late=True, day_column="pass_date",
    # A 补传 resend of the same pass is the same record: the flag alone does not make a new version.
    hash_excludes=frozenset({"reupload"}), key_model=MovementKey,
)
INPLANT_VEHICLES = RecordKind(
    name="inplant-vehicles", key_field="envRegCode", key_column="env_reg_code", model=InplantVehicleIn,
    table_model=InplantVehicle, version_model=InplantVehicleVersion, version_fk="inplant_vehicle_id",
    photo_fields=(("listPhoto", "list_photo"), ("licensePhoto", "license_photo")),
    errors=rules.inplant_errors, missing=rules.inplant_missing, warnings=rules.inplant_warnings,
)
NONROAD_MACHINERY = RecordKind(
    name="nonroad-machinery", key_field="envRegCode", key_column="env_reg_code", model=NonroadMachineryIn,
    table_model=NonroadMachinery, version_model=NonroadMachineryVersion, version_fk="nonroad_machinery_id",
    photo_fields=(("machineNameplatePhoto", "machine_nameplate_photo"),
                  ("engineNameplatePhoto", "engine_nameplate_photo"), ("envLabelPhoto", "env_label_photo")),
    errors=rules.nonroad_errors, missing=rules.nonroad_missing,
)
CLEAN_TRANSPORT_VOLUMES = RecordKind(
    name="clean-transport-volumes", key_field="recordId", key_column="record_id",
    model=CleanTransportVolumeIn, table_model=CleanTransportVolume,
    version_model=CleanTransportVolumeVersion, version_fk="clean_transport_volume_id",
    photo_fields=(), errors=rules.volume_errors, missing=rules.volume_missing,
)

KINDS = {kind.name: kind for kind in (MOVEMENTS, INPLANT_VEHICLES, NONROAD_MACHINERY, CLEAN_TRANSPORT_VOLUMES)}

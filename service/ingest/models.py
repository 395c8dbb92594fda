"""Stored records. Each kind has a current table (one row per key, the newest version) and a
version table holding every earlier version with its receipt time, so nothing is overwritten.

Movements, by far the largest kind, are partitioned by month of their pass date (see partitions.py):
retention drops a whole month instead of deleting rows. PostgreSQL enforces a unique key on a
partitioned table only together with the partition key, so the natural key (enterprise, recordId)
lives in movement_key, one narrow row per record saying which day (and so which partition) holds it.
A correction that moves a pass to another month moves the row, its versions and its key's day in one
transaction, under the key row's lock.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

# A record is complete when every profile item is present and valid, nothing raised a warning, and
# every photo it names has arrived; derived by PostgreSQL so it cannot drift from its inputs.
COMPLETE_SQL = "cardinality(missing_fields) = 0 AND cardinality(missing_photos) = 0 AND warnings = '[]'::jsonb"


def _complete_column() -> Any:
    return Field(default=None, sa_column=Column(Boolean, Computed(COMPLETE_SQL, persisted=True)))


def _pending_photo_index(table: str) -> Index:
    # Partial: only rows still waiting for a photo are indexed, so the hot insert path pays nothing.
    return Index(f"ix_{table}_missing_photos", "missing_photos", postgresql_using="gin",
                 postgresql_where=text("cardinality(missing_photos) > 0"))


class RecordMeta(SQLModel):
    enterprise_id: int = Field(foreign_key="enterprise.id")
    version: int = 1
    content_hash: bytes = Field(sa_type=LargeBinary)
    received_at: datetime = Field(sa_type=DateTime(timezone=True))
    first_received_at: datetime = Field(sa_type=DateTime(timezone=True))
    warnings: list[dict[str, str]] = Field(default_factory=list, sa_type=JSONB)
    missing_fields: list[str] = Field(default_factory=list, sa_type=ARRAY(Text))
    missing_photos: list[str] = Field(default_factory=list, sa_type=ARRAY(Text))


class MovementData(SQLModel):
    record_id: str
    gate_no: str
    barrier_no: str
    direction: str
    pass_time: datetime = Field(sa_type=DateTime(timezone=True))
    pass_date: date  # the Beijing calendar day of pass_time, the unit of every statistic
    pass_photo: str | None = None
    plate_no: str
    plate_color: str
    vehicle_type: str | None = None
    vin: str | None = None
    register_date: date | None = None
    vehicle_model: str | None = None
    engine_model: str | None = None
    engine_maker: str | None = None
    engine_no: str | None = None
    fuel_type: str | None = None
    emission_standard: str | None = None
    use_nature: str | None = None
    network_status: str | None = None
    list_photo: str | None = None
    license_photo: str | None = None
    goods_name: str | None = None
    goods_amount: Decimal | None = Field(default=None, sa_type=Numeric)
    fleet_name: str | None = None
    seq: int | None = Field(default=None, sa_type=BigInteger)
    reupload: bool = False
    late: bool = False


# Heavy as the figures count it: a goods vehicle type H1x/Q1x, or no type and goods carried.
HEAVY = "CASE WHEN vehicle_type IS NOT NULL THEN vehicle_type ~ '^[HQ]1' ELSE coalesce(goods_amount > 0, false) END"
# What an alert rule can catch or exempt: heavy trucks of stage 0-4 or unknown, gas trucks of stage 5, and
# hazardous-goods transport; a small share of the movements, so the findings read them through a partial
# index. A query uses the index only when its WHERE holds this expression as written.
ALERT_CANDIDATE = f"""({HEAVY}) AND (emission_standard IS NULL OR emission_standard IN ('0', '1', '2', '3', '4', 'X')
    OR (emission_standard = '5' AND fuel_type IN ('E', 'F')) OR use_nature = 'R')"""


class MovementKey(SQLModel, table=True):
    """The natural key of a movement, unique across every month; `pass_date` says where its row is."""

    __tablename__ = "movement_key"

    enterprise_id: int = Field(foreign_key="enterprise.id", primary_key=True)
    record_id: str = Field(primary_key=True)
    pass_date: date


def _record_id(table: str) -> Any:
    """A record's id: handed out by the table's sequence, and unique with its enterprise (the primary key is
    (enterprise_id, id), so the tables can be distributed by enterprise without a redesign)."""
    return Field(default=None, sa_column=Column(BigInteger, nullable=False,
                                                server_default=text(f"nextval('{table}_id_seq')")))


def _version_of(table: str, fk: str) -> tuple[Any, ...]:
    return (PrimaryKeyConstraint("enterprise_id", "id"),
            ForeignKeyConstraint(["enterprise_id", fk], [f"{table}.enterprise_id", f"{table}.id"],
                                 name=f"fk_{table}_version_current"))


def _month_partitioned(column: str) -> dict[str, str]:
    return {"postgresql_partition_by": f"RANGE ({column})"}


class Movement(RecordMeta, MovementData, table=True):
    # No foreign key to enterprise here: movement_key holds it, and every row is inserted only beside its
    # new key. (Attaching a month would otherwise lock the enterprise table against every writer of it.)
    __table_args__ = (
        PrimaryKeyConstraint("enterprise_id", "record_id", "pass_date"),
        Index("ix_movement_enterprise_id_pass_time", "enterprise_id", "pass_time"),
        Index("ix_movement_enterprise_id_pass_date", "enterprise_id", "pass_date"),
        # A vehicle's passes: the watch-list's findings and the bureau's plate search.
        Index("ix_movement_plate_no_pass_time", "plate_no", "pass_time"),
        Index("ix_movement_alert_candidates", "enterprise_id", "pass_time", postgresql_where=text(ALERT_CANDIDATE)),
        _pending_photo_index("movement"),
        _month_partitioned("pass_date"),
    )

    enterprise_id: int

    # The movement's public identity (GET /movements/{id}/versions, the findings' movementId), kept by
    # corrections; unique because a sequence hands it out, not by a constraint across the partitions.
    id: int | None = Field(default=None, sa_column=Column(
        BigInteger, nullable=False, index=True, server_default=text("nextval('movement_id_seq')")))
    complete: bool | None = _complete_column()


class MovementVersion(RecordMeta, MovementData, table=True):
    __tablename__ = "movement_version"
    __table_args__ = (
        PrimaryKeyConstraint("enterprise_id", "record_id", "version", "record_pass_date"),
        _month_partitioned("record_pass_date"),
    )

    enterprise_id: int  # no foreign key, as for Movement
    movement_id: int = Field(sa_type=BigInteger)
    # The pass date of the record's current version: earlier versions live and go with their record.
    record_pass_date: date


class InplantVehicleData(SQLModel):
    env_reg_code: str
    vin: str
    production_date: date | None = None
    plate_no: str | None = None
    register_date: date | None = None
    vehicle_model: str | None = None
    engine_model: str | None = None
    engine_maker: str | None = None
    engine_no: str | None = None
    fuel_type: str | None = None
    emission_standard: str | None = None
    list_photo: str | None = None
    license_photo: str | None = None
    owner: str | None = None
    active: bool = True


class InplantVehicle(RecordMeta, InplantVehicleData, table=True):
    __tablename__ = "inplant_vehicle"
    __table_args__ = (
        PrimaryKeyConstraint("enterprise_id", "id"),
        UniqueConstraint("enterprise_id", "env_reg_code"),
        _pending_photo_index("inplant_vehicle"),
    )

    id: int | None = _record_id("inplant_vehicle")
    complete: bool | None = _complete_column()


class InplantVehicleVersion(RecordMeta, InplantVehicleData, table=True):
    __tablename__ = "inplant_vehicle_version"
    __table_args__ = _version_of("inplant_vehicle", "inplant_vehicle_id")

    id: int | None = _record_id("inplant_vehicle_version")
    inplant_vehicle_id: int = Field(index=True, sa_type=BigInteger)


class NonroadMachineryData(SQLModel):
    env_reg_code: str
    production_date: date | None = None
    plate_no: str | None = None
    emission_standard: str
    fuel_type: str | None = None
    machinery_type: str | None = None
    pin: str | None = None
    machinery_model: str | None = None
    engine_model: str | None = None
    engine_maker: str | None = None
    engine_no: str | None = None
    machine_nameplate_photo: str | None = None
    engine_nameplate_photo: str | None = None
    env_label_photo: str | None = None
    owner: str | None = None
    active: bool = True


class NonroadMachinery(RecordMeta, NonroadMachineryData, table=True):
    __tablename__ = "nonroad_machinery"
    __table_args__ = (
        PrimaryKeyConstraint("enterprise_id", "id"),
        UniqueConstraint("enterprise_id", "env_reg_code"),
        _pending_photo_index("nonroad_machinery"),
    )

    id: int | None = _record_id("nonroad_machinery")
    complete: bool | None = _complete_column()


class NonroadMachineryVersion(RecordMeta, NonroadMachineryData, table=True):
    __tablename__ = "nonroad_machinery_version"
    __table_args__ = _version_of("nonroad_machinery", "nonroad_machinery_id")

    id: int | None = _record_id("nonroad_machinery_version")
    nonroad_machinery_id: int = Field(index=True, sa_type=BigInteger)


class CleanTransportVolumeData(SQLModel):
    record_id: str
    volume_date: date
    mode: str
    direction: str
    goods_name: str | None = None
    tonnes: Decimal = Field(sa_type=Numeric)


class CleanTransportVolume(RecordMeta, CleanTransportVolumeData, table=True):
    __tablename__ = "clean_transport_volume"
    __table_args__ = (
        PrimaryKeyConstraint("enterprise_id", "id"),
        UniqueConstraint("enterprise_id", "record_id"),
        Index("ix_clean_transport_volume_enterprise_id_volume_date", "enterprise_id", "volume_date"),
    )

    id: int | None = _record_id("clean_transport_volume")


class CleanTransportVolumeVersion(RecordMeta, CleanTransportVolumeData, table=True):
    __tablename__ = "clean_transport_volume_version"
    __table_args__ = _version_of("clean_transport_volume", "clean_transport_volume_id")

    id: int | None = _record_id("clean_transport_volume_version")
    clean_transport_volume_id: int = Field(index=True, sa_type=BigInteger)

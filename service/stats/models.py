"""Per-day aggregates of movements, kept exact by refreshing only the days that changed.

Ingest marks the (enterprise, Beijing day) pairs it touched in stat_dirty, in the same transaction
as the records. A read first claims the dirty days of what it asks for and recounts them from the
records, then answers from movement_day_stat: raw movements are read again only where they changed.
"""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Index, Numeric, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel


class MovementDayStat(SQLModel, table=True):
    __tablename__ = "movement_day_stat"
    # A region's day (the daily report) is one range of this index; through the key it was a descent per
    # plant, each to a different page, which from a cold cache made it the slowest part of the report.
    __table_args__ = (Index("ix_movement_day_stat_pass_date", "pass_date"),)

    enterprise_id: int = Field(foreign_key="enterprise.id", primary_key=True)
    pass_date: date = Field(primary_key=True)
    gate_no: str = Field(primary_key=True)
    barrier_no: str = Field(primary_key=True)
    direction: str = Field(primary_key=True)
    emission_standard: str = Field(primary_key=True)  # "X" also stands for a record that gave none
    heavy: bool = Field(primary_key=True)
    records: int
    complete: int
    late: int
    reupload: int
    paired_entries: int  # entries followed by an exit of the same plate within 24 h
    tonnes: Decimal = Field(sa_type=Numeric)
    seq_min: int | None = Field(default=None, sa_type=BigInteger)
    seq_max: int | None = Field(default=None, sa_type=BigInteger)


class StatDirty(SQLModel, table=True):
    __tablename__ = "stat_dirty"

    enterprise_id: int = Field(foreign_key="enterprise.id", primary_key=True)
    pass_date: date = Field(primary_key=True)
    marked_at: datetime = Field(sa_type=DateTime(timezone=True))


class Manifest(SQLModel, table=True):
    """对账单: what one barrier captured on one day, as the gateway declares it (the latest declaration)."""

    enterprise_id: int = Field(foreign_key="enterprise.id", primary_key=True)
    manifest_date: date = Field(primary_key=True)
    gate_no: str = Field(primary_key=True)
    barrier_no: str = Field(primary_key=True)
    declared_count: int
    record_ids: list[str] = Field(default_factory=list, sa_type=ARRAY(Text))
    received_at: datetime = Field(sa_type=DateTime(timezone=True))

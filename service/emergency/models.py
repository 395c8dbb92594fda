"""Heavy-pollution alerts (重污染天气应急) and their inputs, kept with history: enterprise grades (a new
row per decision, never an update), alerts (ended or superseded, never deleted), exemptions and the
over-limit watch-list (超标车辆名单). Every change is also an audit entry with before and after."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel


def _id_with_enterprise(table: str) -> Any:
    """Handed out by the table's sequence; the primary key is (enterprise_id, id), so the table can be
    distributed by enterprise with the enterprise's records."""
    return Field(default=None, sa_column=Column(Integer, nullable=False,
                                                server_default=text(f"nextval('{table}_id_seq')")))


class EnterpriseGrade(SQLModel, table=True):
    """绩效分级: the grade in force on a day is the one with the latest valid_from on or before it
    (the later decision when two share a valid_from)."""

    __tablename__ = "enterprise_grade"
    __table_args__ = (PrimaryKeyConstraint("enterprise_id", "id"),
                      Index("ix_enterprise_grade_enterprise_id_valid_from", "enterprise_id", "valid_from"))

    id: int | None = _id_with_enterprise("enterprise_grade")
    enterprise_id: int = Field(foreign_key="enterprise.id")
    grade: str  # A, leading, B, C, D, none
    valid_from: date
    decided_at: datetime = Field(sa_type=DateTime(timezone=True))
    decided_by: str


class Alert(SQLModel, table=True):
    """An alert over a region (行政区划 prefix), from starts_at until ends_at (open: until lifted)."""

    __tablename__ = "emergency_alert"
    __table_args__ = (Index("ix_emergency_alert_starts_at", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    region_code: str = Field(index=True)
    level: str  # yellow, orange, red
    measure: int | None = None  # a local notice's measure code 1-4; none: the national default by grade
    starts_at: datetime = Field(sa_type=DateTime(timezone=True))
    ends_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    max_heavy_entry_ratio: float | None = Field(default=None, sa_type=Numeric)
    note: str = ""
    supersedes: int | None = Field(default=None, foreign_key="emergency_alert.id")
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    created_by: str


class Exemption(SQLModel, table=True):
    """应急运输豁免: a plate (and colour) an enterprise may use during alerts, in [valid_from, valid_to)."""

    __tablename__ = "emergency_exemption"
    __table_args__ = (PrimaryKeyConstraint("enterprise_id", "id"),
                      Index("ix_emergency_exemption_enterprise_id_plate_no", "enterprise_id", "plate_no"))

    id: int | None = _id_with_enterprise("emergency_exemption")
    enterprise_id: int = Field(foreign_key="enterprise.id")
    plate_no: str
    plate_color: str
    kind: str  # safety, livelihood, special
    valid_from: datetime = Field(sa_type=DateTime(timezone=True))
    valid_to: datetime = Field(sa_type=DateTime(timezone=True))
    approval: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    created_by: str


class WatchlistEntry(SQLModel, table=True):
    """超标车辆: a vehicle listed for the enterprises inside region_prefix, from listed_at until released_at.

    change_seq grows with every change, so gateways fetch what changed since their last cursor."""

    __tablename__ = "watchlist_entry"
    __table_args__ = (UniqueConstraint("region_prefix", "plate_no", "plate_color"),
                      Index("ix_watchlist_entry_plate_no_plate_color", "plate_no", "plate_color"))

    id: int | None = Field(default=None, primary_key=True)
    region_prefix: str
    plate_no: str
    plate_color: str
    vin: str | None = None
    reason: str  # 1-7
    listed_at: datetime = Field(sa_type=DateTime(timezone=True))
    released_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    change_seq: int = Field(sa_type=BigInteger, index=True)
    changed_at: datetime = Field(sa_type=DateTime(timezone=True))
    changed_by: str

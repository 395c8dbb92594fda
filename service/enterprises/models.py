from datetime import datetime

from sqlalchemy import DateTime, func
from sqlmodel import Field, SQLModel


class Enterprise(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True)
    name: str
    region_code: str = Field(index=True)
    industry: str = ""
    created_at: datetime | None = Field(default=None, nullable=False, sa_type=DateTime(timezone=True),
                                 sa_column_kwargs={"server_default": func.now()})
    last_seen_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_heartbeat_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    clock_skew_seconds: float | None = None
    # A disabled enterprise's keys stop working; its data stays.
    disabled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

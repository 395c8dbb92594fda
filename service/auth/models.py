from datetime import datetime

from sqlalchemy import DateTime, func
from sqlmodel import Field, SQLModel


class GatewayKey(SQLModel, table=True):
    """An enterprise gateway's key; only its SHA-256 is kept."""

    __tablename__ = "gateway_key"

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    key_hash: str = Field(unique=True)
    created_at: datetime | None = Field(default=None, nullable=False, sa_type=DateTime(timezone=True),
                                 sa_column_kwargs={"server_default": func.now()})
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class StaffToken(SQLModel, table=True):
    """A bureau staff member's token: a role and a jurisdiction (行政区划代码 prefix, empty = national)."""

    __tablename__ = "staff_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    role: str
    region_prefix: str = ""
    token_hash: str = Field(unique=True)
    created_at: datetime | None = Field(default=None, nullable=False, sa_type=DateTime(timezone=True),
                                 sa_column_kwargs={"server_default": func.now()})
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

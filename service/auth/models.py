from datetime import datetime

from sqlalchemy import DateTime, func
from sqlmodel import Field, SQLModel


class GatewayKey(SQLModel, table=True):
    """An enterprise gateway's key; only its SHA-256 is kept. An enterprise may hold several live keys,
    so a gateway can switch to a new one before the old is revoked."""

    __tablename__ = "gateway_key"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(unique=True)  # key_…: safe to log, show and name in a revocation
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    key_hash: str = Field(unique=True)
    created_at: datetime | None = Field(default=None, nullable=False, sa_type=DateTime(timezone=True),
                                        sa_column_kwargs={"server_default": func.now()})
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # none unless asked
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class StaffToken(SQLModel, table=True):
    """A bureau staff member's token: a role and a jurisdiction (行政区划代码 prefix, empty = national)."""

    __tablename__ = "staff_token"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(unique=True)  # tok_…
    name: str
    role: str
    region_prefix: str = ""
    token_hash: str = Field(unique=True)
    created_at: datetime | None = Field(default=None, nullable=False, sa_type=DateTime(timezone=True),
                                        sa_column_kwargs={"server_default": func.now()})
    created_by: str = ""  # the public id of the admin who issued it, or "cli"
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

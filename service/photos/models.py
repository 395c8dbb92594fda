from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, func
from sqlmodel import Field, SQLModel


class Photo(SQLModel, table=True):
    """A photo, addressed by the SHA-256 of its bytes (64 lowercase hex)."""

    sha256: str = Field(primary_key=True)
    content_type: str
    size_bytes: int
    data: bytes = Field(sa_type=LargeBinary)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    received_at: datetime | None = Field(default=None, nullable=False, sa_type=DateTime(timezone=True),
                                  sa_column_kwargs={"server_default": func.now()})

from datetime import date, datetime

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel


class Photo(SQLModel, table=True):
    """A photo, addressed by the SHA-256 of its bytes (64 lowercase hex).

    The bytes are in the photo store (store.py), written before the row saying they arrived commits. A row that
    has not arrived (received_at null) is a placeholder: a record names the photo but its bytes have
    not come. The placeholder's row is where a record waiting for a photo and the photo's arrival meet,
    so neither can miss the other (see repository.py).
    """

    sha256: str = Field(primary_key=True)
    content_type: str | None = None
    size_bytes: int | None = None
    enterprise_id: int = Field(foreign_key="enterprise.id")  # the first to upload or name it
    received_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The month of the latest record naming it (a movement's pass month, current or earlier version, or a ledger
    # entry's arrival month), where that is later than the month the photo arrived in: the retention purge lets a
    # photo go only once both months have gone and no kept ledger row names it.
    named_month: date | None = Field(default=None, index=True)


class PhotoEnterprise(SQLModel, table=True):
    """An enterprise that uploaded a photo or has a record (any version) naming it.

    Who may see a photo follows from these rows: staff whose jurisdiction holds one of its enterprises.
    The same bytes can be evidence of two plants, so no single "owner" would do.
    """

    __tablename__ = "photo_enterprise"

    sha256: str = Field(primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", primary_key=True)

"""Every table, imported in one place so that alembic and the tests see the whole schema."""

from sqlmodel import SQLModel

from service import db as _db  # noqa: F401  (sets the naming convention before tables are built)
from service.audit.models import AuditChain, AuditEntry
from service.auth.models import GatewayKey, StaffToken
from service.emergency.models import Alert, EnterpriseGrade, Exemption, WatchlistEntry
from service.enterprises.models import Enterprise
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
from service.partitions import is_partition
from service.photos.models import Photo, PhotoEnterprise
from service.stats.models import Manifest, MovementDayStat, StatDirty

metadata = SQLModel.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """For comparing the database with the models: the monthly partitions are made at run time, not modelled."""
    return not (type_ == "table" and name is not None and is_partition(name))

__all__ = [
    "Alert",
    "AuditChain",
    "AuditEntry",
    "CleanTransportVolume",
    "CleanTransportVolumeVersion",
    "Enterprise",
    "EnterpriseGrade",
    "Exemption",
    "GatewayKey",
    "InplantVehicle",
    "InplantVehicleVersion",
    "Manifest",
    "Movement",
    "MovementDayStat",
    "MovementKey",
    "MovementVersion",
    "NonroadMachinery",
    "NonroadMachineryVersion",
    "Photo",
    "PhotoEnterprise",
    "StaffToken",
    "StatDirty",
    "WatchlistEntry",
    "metadata",
]

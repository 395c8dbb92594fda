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
    MovementVersion,
    NonroadMachinery,
    NonroadMachineryVersion,
)
from service.photos.models import Photo, PhotoEnterprise
from service.stats.models import Manifest, MovementDayStat, StatDirty

metadata = SQLModel.metadata

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

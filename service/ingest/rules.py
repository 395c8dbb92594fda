"""The record rules JSON Schema cannot express: time windows, check digits, and completeness."""

import calendar
import operator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property, lru_cache

from service.ingest.payloads import (
    BEIJING,
    CleanTransportVolumeIn,
    InplantVehicleIn,
    MovementIn,
    NonroadMachineryIn,
    issue,
)

Issues = list[dict[str, str]]

# GB 16735 (ISO 3779) VIN check digit: letter values and position weights.
_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
               **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
               **dict(zip("STUVWXYZ", range(2, 10), strict=True))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


@lru_cache(maxsize=65_536)  # the same trucks pass the same gates all day
def vin_check_digit(vin: str) -> str:
    total = sum(map(operator.mul, map(_VIN_VALUES.__getitem__, vin), _VIN_WEIGHTS))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_warnings(vin: str | None) -> Issues:
    if vin is None or vin[8] == vin_check_digit(vin):
        return []
    return [issue("vin", "vin_check_digit",
                  f"check digit (9th character) is {vin[8]}, GB 16735 gives {vin_check_digit(vin)}")]


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock time `months` calendar months earlier (31 March minus one month: 28/29 Feb)."""
    year, month_index = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month_index + 1)[1])
    return moment.replace(year=year, month=month_index + 1, day=day)


@dataclass(frozen=True)
class RuleContext:
    """What the rules need besides the record: the receipt time and the configured windows."""

    received_at: datetime
    timeliness_window: timedelta
    future_tolerance: timedelta
    retention_months: int

    @cached_property
    def today(self) -> date:
        return self.received_at.astimezone(BEIJING).date()

    @cached_property
    def retention_start(self) -> datetime:
        return months_before(self.received_at.astimezone(BEIJING), self.retention_months)


def _absent(record: object, keys_and_attrs: tuple[tuple[str, str], ...]) -> list[str]:
    return [key for key, attr in keys_and_attrs if getattr(record, attr) is None]


def _not_after_today(field: str, value: date | None, ctx: RuleContext) -> Issues:
    if value is not None and value > ctx.today:
        return [issue(field, "future_time", f"{value} is after today ({ctx.today}, Beijing time)")]
    return []


# Appendix C §1 items other than the A items; all must be present for a movement to be complete.
_MOVEMENT_ITEMS = (
    ("passPhoto", "pass_photo"), ("vehicleType", "vehicle_type"), ("vin", "vin"),
    ("registerDate", "register_date"), ("vehicleModel", "vehicle_model"), ("engineModel", "engine_model"),
    ("engineMaker", "engine_maker"), ("engineNo", "engine_no"), ("fuelType", "fuel_type"),
    ("emissionStandard", "emission_standard"), ("useNature", "use_nature"),
    ("networkStatus", "network_status"), ("goodsName", "goods_name"), ("goodsAmount", "goods_amount"),
    ("fleetName", "fleet_name"),
)


def movement_errors(record: MovementIn, ctx: RuleContext) -> Issues:
    errors: Issues = []
    if record.pass_time > ctx.received_at + ctx.future_tolerance:
        errors.append(issue("passTime", "future_time",
                            f"is more than {int(ctx.future_tolerance.total_seconds() // 60)} minutes "
                            f"after the server time; got {record.pass_time.isoformat()}"))
    elif record.pass_time < ctx.retention_start:
        errors.append(issue("passTime", "beyond_retention",
                            f"is older than the {ctx.retention_months}-month retention window; "
                            f"got {record.pass_time.isoformat()}"))
    if record.register_date is not None and record.register_date > record.pass_time.date():
        errors.append(issue("registerDate", "out_of_range",
                            f"must not be after passTime; got {record.register_date}"))
    return errors


def movement_warnings(record: MovementIn) -> Issues:
    warnings = vin_warnings(record.vin)
    amount = record.goods_amount
    if amount is not None and round(amount, 1) != amount:
        warnings.append(issue("goodsAmount", "precision", f"has more than one decimal; got {amount}"))
    return warnings


def movement_missing(record: MovementIn) -> list[str]:
    missing = _absent(record, _MOVEMENT_ITEMS)
    if record.emission_standard == "X":
        missing.append("emissionStandard")
    # Items 19 and 20: either the emission info list or the driving licence completes the record.
    if record.list_photo is None and record.license_photo is None:
        missing += ["listPhoto", "licensePhoto"]
    return missing


def is_late(pass_time: datetime, first_received_at: datetime, ctx: RuleContext) -> bool:
    return first_received_at - pass_time > ctx.timeliness_window


_INPLANT_ITEMS = (
    ("productionDate", "production_date"), ("registerDate", "register_date"),
    ("vehicleModel", "vehicle_model"), ("engineModel", "engine_model"), ("engineMaker", "engine_maker"),
    ("engineNo", "engine_no"), ("fuelType", "fuel_type"), ("emissionStandard", "emission_standard"),
    ("listPhoto", "list_photo"), ("licensePhoto", "license_photo"), ("owner", "owner"),
)


def inplant_errors(record: InplantVehicleIn, ctx: RuleContext) -> Issues:
    return (_not_after_today("productionDate", record.production_date, ctx)
            + _not_after_today("registerDate", record.register_date, ctx))


def inplant_warnings(record: InplantVehicleIn) -> Issues:
    return vin_warnings(record.vin)


def inplant_missing(record: InplantVehicleIn) -> list[str]:
    missing = _absent(record, _INPLANT_ITEMS)
    if record.emission_standard == "X":
        missing.append("emissionStandard")
    return missing


_NONROAD_ITEMS = (
    ("productionDate", "production_date"), ("fuelType", "fuel_type"), ("machineryType", "machinery_type"),
    ("pin", "pin"), ("machineryModel", "machinery_model"), ("engineModel", "engine_model"),
    ("engineMaker", "engine_maker"), ("engineNo", "engine_no"),
    ("machineNameplatePhoto", "machine_nameplate_photo"), ("engineNameplatePhoto", "engine_nameplate_photo"),
    ("envLabelPhoto", "env_label_photo"), ("owner", "owner"),
)


def nonroad_errors(record: NonroadMachineryIn, ctx: RuleContext) -> Issues:
    return _not_after_today("productionDate", record.production_date, ctx)


def nonroad_missing(record: NonroadMachineryIn) -> list[str]:
    missing = _absent(record, _NONROAD_ITEMS)
    if record.emission_standard == "X":
        missing.append("emissionStandard")
    return missing


def volume_errors(record: CleanTransportVolumeIn, ctx: RuleContext) -> Issues:
    errors = _not_after_today("date", record.volume_date, ctx)
    if record.volume_date < ctx.retention_start.date():
        errors.append(issue("date", "beyond_retention",
                            f"is older than the {ctx.retention_months}-month retention window; "
                            f"got {record.volume_date}"))
    return errors


def volume_missing(record: CleanTransportVolumeIn) -> list[str]:
    return [] if record.goods_name is not None else ["goodsName"]

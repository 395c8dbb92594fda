"""Pydantic models of the records a gateway posts, built from the same code tables as schemas/.

A test proves these models and the JSON Schema files accept and reject the same payloads. Rules
JSON Schema cannot say (time windows, check digits, photo bytes) live in rules.py and service.py.
"""

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from service.codes import (
    CLEAN_TRANSPORT_MODE,
    DIRECTION,
    EMISSION_STANDARD,
    FUEL_TYPE,
    MACHINERY_TYPE,
    NETWORK_STATUS,
    PLATE_COLOR,
    USE_NATURE,
    VEHICLE_TYPE_PREFIX,
    CodeTable,
)

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

# The Chinese item of every key, so every message names what the enterprise's staff know it by.
ITEM_NAMES: dict[str, str] = {
    "enterpriseCode": "企业代码", "records": "记录", "recordId": "记录流水号", "gateNo": "出入口编号",
    "barrierNo": "道闸编号", "direction": "进出厂状态", "passTime": "进/出厂时间", "passPhoto": "进/出厂照片",
    "plateNo": "车牌号码", "plateColor": "号牌颜色", "vehicleType": "车辆类型", "vin": "车辆识别代号",
    "registerDate": "注册登记日期", "vehicleModel": "车辆型号", "engineModel": "发动机型号",
    "engineMaker": "发动机生产厂", "engineNo": "发动机编号", "fuelType": "燃料类型",
    "emissionStandard": "排放标准", "useNature": "使用性质", "networkStatus": "联网状态",
    "listPhoto": "随车清单", "licensePhoto": "行驶证", "goodsName": "运输货物名称", "goodsAmount": "运输量",
    "fleetName": "车队名称", "seq": "流水序号", "reupload": "补传标志", "envRegCode": "环保登记编码",
    "productionDate": "生产日期", "owner": "所属人(单位)", "active": "在用状态", "machineryType": "机械种类",
    "pin": "产品识别码", "machineryModel": "机械型号", "machineNameplatePhoto": "整车(机)铭牌",
    "engineNameplatePhoto": "发动机铭牌", "envLabelPhoto": "机械环保信息标签", "date": "日期",
    "mode": "运输方式", "tonnes": "运输量", "sentAt": "发送时间", "barriers": "道闸", "count": "过车数",
    "recordIds": "记录流水号列表",
}

# What a pattern means, for the message when a value does not match it.
_FORMAT_HINTS: dict[str, str] = {
    "recordId": "must be 1-64 characters of 0-9 A-Z a-z _ -",
    "gateNo": "must be 1-8 characters of 0-9 A-Z a-z",
    "barrierNo": "must be 1-8 characters of 0-9 A-Z a-z",
    "plateNo": "must be a Chinese plate: province character, a letter (no I, O), then 5 or 6 letters/digits",
    "vin": "must be 17 characters of 0-9 and A-Z without I, O, Q",
    "vehicleType": "must be a GA 802 code: a letter of " + VEHICLE_TYPE_PREFIX.describe() + " and two digits",
    "envRegCode": "must be 1-32 characters of 0-9 A-Z a-z -",
    "pin": "must be 17 characters of 0-9 A-Z",
    "enterpriseCode": "must be an 18-character unified social credit code",
}
_PHOTO_HINT = "must be sha256:<64 lowercase hex> or data:image/jpeg|png;base64,..."
_TEXT_HINT = "must not contain control characters"

# Years 1900-2999 only: no gate passed a truck outside them, and converting year 1 or 9999 between
# offsets would leave Python's calendar (OverflowError) instead of answering.
TIME_RE = re.compile(
    r"^(19[0-9]{2}|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
)
DATE_RE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
PHOTO_PATTERN = r"^(sha256:[0-9a-f]{64}|data:image/(jpeg|png);base64,[A-Za-z0-9+/]*={0,2})$"
TEXT_PATTERN = r"^[^\u0000-\u001F\u007F]*$"
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_PATTERN = f"^[{PROVINCES}][A-HJ-NP-Z][A-HJ-NP-Z0-9]{{4,5}}[A-HJ-NP-Z0-9挂学警港澳]$"
ENTERPRISE_CODE_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{18}$"
ENTERPRISE_CODE_RE = re.compile(ENTERPRISE_CODE_PATTERN)
INLINE_PHOTO_MAX_CHARS = 1_398_200


def parse_time(value: Any) -> datetime:
    """yyyy-MM-dd HH:mm:ss in Beijing time, or RFC 3339 with an explicit offset; kept as Beijing time."""
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_type", "must be a string")
    if not TIME_RE.match(value):
        raise PydanticCustomError("invalid_date", "is not a time of the form yyyy-MM-dd HH:mm:ss "
                                                  "or RFC 3339 with offset, years 1900-2999")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("invalid_date", "is not a real calendar time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BEIJING)
    return parsed.astimezone(BEIJING)


def _parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_type", "must be a string")
    if not DATE_RE.match(value):
        raise PydanticCustomError("invalid_date", "is not a date of the form yyyy-MM-dd")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("invalid_date", "is not a real calendar date") from None


def _integral(value: Any) -> Any:
    # JSON Schema's integer includes 1.0; strict mode alone would reject it.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _code(table: CodeTable) -> Callable[[str], str]:
    allowed = frozenset(table.codes)
    described = table.describe()

    def check(value: str) -> str:
        if value not in allowed:
            raise PydanticCustomError("invalid_code", "must be one of {codes}", {"codes": described})
        return value

    return check


Text16 = Annotated[str, StringConstraints(max_length=16, pattern=TEXT_PATTERN)]
Text32 = Annotated[str, StringConstraints(max_length=32, pattern=TEXT_PATTERN)]
Text64 = Annotated[str, StringConstraints(max_length=64, pattern=TEXT_PATTERN)]
Text100 = Annotated[str, StringConstraints(max_length=100, pattern=TEXT_PATTERN)]
Time = Annotated[datetime, PlainValidator(parse_time, json_schema_input_type=str)]
Day = Annotated[date, PlainValidator(_parse_date, json_schema_input_type=str)]
PhotoRef = Annotated[str, StringConstraints(max_length=INLINE_PHOTO_MAX_CHARS, pattern=PHOTO_PATTERN)]
RecordId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
EnvRegCode = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z-]+$")]
PlateNo = Annotated[str, StringConstraints(pattern=PLATE_PATTERN)]
Vin = Annotated[str, StringConstraints(pattern=r"^[A-HJ-NPR-Z0-9]{17}$")]
VehicleType = Annotated[str, StringConstraints(pattern=f"^[{''.join(VEHICLE_TYPE_PREFIX.codes)}][0-9]{{2}}$")]
GateNo = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,8}$")]
Direction = Annotated[str, AfterValidator(_code(DIRECTION))]
PlateColor = Annotated[str, AfterValidator(_code(PLATE_COLOR))]
FuelType = Annotated[str, AfterValidator(_code(FUEL_TYPE))]
EmissionStandard = Annotated[str, AfterValidator(_code(EMISSION_STANDARD))]
UseNature = Annotated[str, AfterValidator(_code(USE_NATURE))]
NetworkStatus = Annotated[str, AfterValidator(_code(NETWORK_STATUS))]
MachineryType = Annotated[str, AfterValidator(_code(MACHINERY_TYPE))]
CleanMode = Annotated[str, AfterValidator(_code(CLEAN_TRANSPORT_MODE))]


class RecordIn(BaseModel):
    # Strict: codes are strings ("1", not 1) and numbers are numbers, exactly as the JSON Schema says.
    # Unknown keys are ignored, as the schemas allow them.
    model_config = ConfigDict(strict=True, extra="ignore", alias_generator=to_camel, frozen=True)


class MovementIn(RecordIn):
    record_id: RecordId
    gate_no: GateNo
    barrier_no: GateNo
    direction: Direction
    pass_time: Time
    pass_photo: PhotoRef | None = None
    plate_no: PlateNo
    plate_color: PlateColor
    vehicle_type: VehicleType | None = None
    vin: Vin | None = None
    register_date: Day | None = None
    vehicle_model: Text64 | None = None
    engine_model: Text32 | None = None
    engine_maker: Text100 | None = None
    engine_no: Text32 | None = None
    fuel_type: FuelType | None = None
    emission_standard: EmissionStandard | None = None
    use_nature: UseNature | None = None
    network_status: NetworkStatus | None = None
    list_photo: PhotoRef | None = None
    license_photo: PhotoRef | None = None
    goods_name: Text32 | None = None
    goods_amount: Annotated[float, Field(ge=0, le=999.9)] | None = None
    fleet_name: Text100 | None = None
    seq: Annotated[int, BeforeValidator(_integral), Field(ge=0, le=2**63 - 1)] | None = None
    reupload: bool = False


class InplantVehicleIn(RecordIn):
    env_reg_code: EnvRegCode
    vin: Vin
    production_date: Day | None = None
    plate_no: PlateNo | None = None
    register_date: Day | None = None
    vehicle_model: Text64 | None = None
    engine_model: Text32 | None = None
    engine_maker: Text100 | None = None
    engine_no: Text32 | None = None
    fuel_type: FuelType | None = None
    emission_standard: EmissionStandard | None = None
    list_photo: PhotoRef | None = None
    license_photo: PhotoRef | None = None
    owner: Text100 | None = None
    active: bool = True


class NonroadMachineryIn(RecordIn):
    env_reg_code: EnvRegCode
    production_date: Day | None = None
    plate_no: Text16 | None = None
    emission_standard: EmissionStandard
    fuel_type: FuelType | None = None
    machinery_type: MachineryType | None = None
    pin: Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{17}$")] | None = None
    machinery_model: Text64 | None = None
    engine_model: Text32 | None = None
    engine_maker: Text100 | None = None
    engine_no: Text32 | None = None
    machine_nameplate_photo: PhotoRef | None = None
    engine_nameplate_photo: PhotoRef | None = None
    env_label_photo: PhotoRef | None = None
    owner: Text100 | None = None
    active: bool = True


class CleanTransportVolumeIn(RecordIn):
    record_id: RecordId
    volume_date: Day = Field(alias="date")
    mode: CleanMode
    direction: Direction
    goods_name: Text32 | None = None
    tonnes: Annotated[float, Field(ge=0, le=10_000_000)]


class ManifestBarrierIn(RecordIn):
    gate_no: GateNo
    barrier_no: GateNo
    count: Annotated[int, BeforeValidator(_integral), Field(ge=0, le=10_000_000)]
    record_ids: Annotated[list[RecordId], Field(max_length=200_000)] = []


class ManifestIn(RecordIn):
    """对账单: what each barrier captured on one day, the denominator of the upload rate."""

    enterprise_code: Annotated[str, StringConstraints(pattern=ENTERPRISE_CODE_PATTERN)]
    manifest_date: Day = Field(alias="date")
    barriers: Annotated[list[ManifestBarrierIn], Field(min_length=1, max_length=1000)]


class HeartbeatIn(RecordIn):
    enterprise_code: Annotated[str, StringConstraints(pattern=ENTERPRISE_CODE_PATTERN)]
    sent_at: Time


M = TypeVar("M", bound=RecordIn)


def issue(field: str, code: str, text: str) -> dict[str, str]:
    """One error or warning: the field, a stable code, and a message naming the Chinese item."""
    item = ITEM_NAMES.get(_item_key(field), "")
    return {"field": field, "code": code, "message": f"{item} {field} {text}".strip()}


def _item_key(field: str) -> str:
    """The item a (possibly nested) field path names: barriers.0.recordIds.3 -> recordIds."""
    return next((part for part in reversed(field.split(".")) if not part.isdigit()), "")


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 48 else text[:45] + '..."'


_TYPE_NAMES = {"string_type": "a string", "int_type": "an integer", "float_type": "a number",
               "bool_type": "a boolean (true or false)", "int_from_float": "an integer"}


def _translate(error: Any) -> dict[str, str]:
    field = ".".join(str(part) for part in error["loc"])
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return issue(field, "required", "is required")
    if kind in _TYPE_NAMES:
        return issue(field, "invalid_type", f"must be {_TYPE_NAMES[kind]}; got {_shown(value)}")
    if kind == "string_pattern_mismatch":
        if _item_key(field) in _FORMAT_HINTS:
            hint = _FORMAT_HINTS[_item_key(field)]
        elif ctx.get("pattern") == PHOTO_PATTERN:
            hint = _PHOTO_HINT
        else:
            hint = _TEXT_HINT
        return issue(field, "pattern", f"{hint}; got {_shown(value)}")
    if kind == "string_too_long":
        return issue(field, "too_long", f"must be at most {ctx['max_length']} characters")
    if kind == "string_too_short":
        return issue(field, "required", "must not be empty")
    if kind in ("greater_than_equal", "less_than_equal"):
        bounds = {"greater_than_equal": f"at least {ctx.get('ge')}", "less_than_equal": f"at most {ctx.get('le')}"}
        return issue(field, "out_of_range", f"must be {bounds[kind]}; got {_shown(value)}")
    if kind == "invalid_code":
        return issue(field, "invalid_code", f"must be one of {ctx['codes']}; got {_shown(value)}")
    if kind == "invalid_date":
        return issue(field, "invalid_date", f"{error['msg']}; got {_shown(value)}")
    if kind == "invalid_type":
        return issue(field, "invalid_type", f"{error['msg']}; got {_shown(value)}")
    return issue(field, "invalid", f"{error['msg']}; got {_shown(value)}")


def validate_record(model: type[M], raw: Any) -> M | list[dict[str, str]]:
    """The model, or every error of the record. null and "" mean an item was not provided."""
    if not isinstance(raw, dict):
        return [issue("", "invalid_type", f"a record must be a JSON object; got {_shown(raw)}")]
    values = raw.values()
    if None in values or "" in values:  # rare; the check runs in C, the rebuild only when needed
        raw = {key: value for key, value in raw.items() if value is not None and value != ""}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return [_translate(error) for error in exc.errors(include_url=False)]

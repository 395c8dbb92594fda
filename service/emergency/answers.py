"""What the heavy-pollution alert and watch-list endpoints answer (the OpenAPI's response models)."""

from pydantic import Field

from service.answers import Answer, Rate


class GradeDecision(Answer):
    grade: str = Field(description="绩效分级: A, leading, B, C, D or none")
    validFrom: str
    decidedAt: str
    decidedBy: str


class GradeHistory(Answer):
    enterpriseCode: str
    current: str = Field(description="the grade in force today")
    items: list[GradeDecision]


class AlertOut(Answer):
    id: int
    regionCode: str
    level: str = Field(description="yellow, orange or red")
    measure: int | None = Field(description="a local notice's measure code 1-4; null: the national default")
    startsAt: str
    endsAt: str | None = Field(description="exclusive; null: until lifted")
    maxHeavyEntryRatio: float | None
    note: str
    supersedes: int | None
    createdAt: str
    createdBy: str


class ExemptionOut(Answer):
    id: int
    plateNo: str
    plateColor: str
    kind: str
    validFrom: str
    validTo: str
    approval: str
    createdAt: str
    createdBy: str


class WatchlistEntryOut(Answer):
    plateNo: str
    plateColor: str
    vin: str | None
    reason: str = Field(description="1 定期检验 2 远程监控(OBD) 3 路检路查 4 入户检查 5 遥感监测 6 黑烟举报 7 其他")
    reasonLabel: str
    regionCode: str = Field(description="the plants it applies to: region code prefix")
    listedAt: str
    releasedAt: str | None
    changedAt: str


class WatchlistChanges(Answer):
    items: list[WatchlistEntryOut]
    cursor: str = Field(description="pass it back as since= next time")
    more: bool = Field(description="more changes wait: ask again at once with the cursor")


class Banned(Answer):
    maxStage: str | None
    maxGasStage: str | None
    allRoadTransport: bool


class ControlMeasure(Answer):
    alertId: int
    level: str
    measure: int | None
    startsAt: str
    endsAt: str | None
    grade: str
    banned: Banned | None = Field(description="null: nothing is banned for this plant")
    maxHeavyEntryRatio: float | None
    text: str = Field(description="the rule in words, for the gate's screen")


class ControlMeasures(Answer):
    items: list[ControlMeasure]
    serverTime: str


class Finding(Answer):
    """A movement that broke a rule (or a listed vehicle's exit, as information), or a day over the entry cap."""

    rule: str = Field(description="stage_banned_during_alert, stage_unknown_during_alert, road_transport_stopped, "
                                  "watchlisted_vehicle, watchlisted_vehicle_exit or entry_cap_exceeded")
    severity: str = Field(description="violation or info")
    enterpriseCode: str
    alertId: int | None
    level: str | None
    measure: int | None
    movementId: int | None = None
    recordId: str | None = None
    plateNo: str | None = None
    plateColor: str | None = None
    passTime: str | None = None
    direction: str | None = None
    vehicleType: str | None = None
    fuelType: str | None = None
    emissionStandard: str | None = None
    grade: str | None = None
    reason: str | None = None
    late: bool | None = None
    reupload: bool | None = None
    date: str | None = Field(default=None, description="entry-cap findings: the day")
    cap: int | None = None
    entries: int | None = None
    excess: int | None = None


class ViolationSummary(Answer):
    enterpriseCode: str
    alertId: int | None = Field(description="null: listed vehicles' entries outside any alert")
    grade: str | None
    level: str | None
    inScope: int
    heavyInScope: int
    exempt: int
    violations: int
    violationShare: Rate
    capExceededDays: int


class Violations(Answer):
    items: list[Finding]
    nextCursor: str | None
    summary: list[ViolationSummary]


class DayEntries(Answer):
    date: str
    heavyEntries: int


class AlertDay(DayEntries):
    wholeDay: bool
    cap: int | None
    excess: int | None


class Comparison(Answer):
    """核查: heavy-truck entries on an alert's days against the plant's normal days before it."""

    enterpriseCode: str
    alertId: int
    level: str
    maxHeavyEntryRatio: float | None
    baselineDays: list[DayEntries]
    baselineDailyHeavyEntries: float | None
    alertDays: list[AlertDay]
    alertDailyHeavyEntries: float | None
    alertToNormalRatio: Rate
    capExceededDays: int

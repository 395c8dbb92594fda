"""What the report endpoints answer (the OpenAPI's response models)."""

from pydantic import Field

from service.answers import Answer, Rate
from service.queries.answers import StoredMovement


class DailyRow(Answer):
    enterpriseCode: str
    name: str
    regionCode: str
    industry: str
    tripsIn: int
    tripsOut: int
    heavyTrips: int
    heavyNevTripShare: Rate = Field(description="新能源重型货车运输车次占比")
    heavyChinaVIOrNevShare: Rate = Field(description="国六及新能源重型货车运输车次占比")
    roadTonnes: float
    uploadRate: Rate
    fieldCompletenessRate: Rate
    timelinessRate: Rate
    late: int
    lastSeenAt: str | None
    alertViolations: int = Field(description="应急违规: movements of the day that broke an alert rule")


class DailyReport(Answer):
    """统计日报: one row per enterprise of the region on one Beijing day."""

    date: str
    regionCode: str
    rows: list[DailyRow]


class SampledMovement(StoredMovement):
    photoLinks: dict[str, str] = Field(default_factory=dict, description="item -> the photo's address")


class AuditSample(Answer):
    enterpriseCode: str
    from_: str = Field(alias="from")
    to: str
    n: int
    seed: int = Field(description="the same seed draws the same sample")
    items: list[SampledMovement]

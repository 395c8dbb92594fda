"""What the figure endpoints answer (the OpenAPI's response models). Every rate is a Rate: with no
denominator its value is null, never 0 or 100 %."""

from pydantic import Field

from service.answers import Answer, Rate


class CompletenessFigures(Answer):
    received: int = Field(description="records received for the day(s)")
    expected: int | None = Field(description="what the manifests and seq numbers say should have come; null: "
                                             "unknown")
    missing: int | None
    uploadRate: Rate = Field(description="上传率 received / expected")
    fieldCompletenessRate: Rate = Field(description="完整率 records with every item and photo / received")
    timelinessRate: Rate = Field(description="及时率 records received within the timeliness window / received")
    pairingRate: Rate = Field(description="heavy entries with an exit of the same plate within 24 h / entries")
    late: int
    reupload: int = Field(description="records flagged 补传 by the gateway")
    meetsTarget: bool | None = Field(description="upload rate and completeness both at or above the target")


class CompletenessDay(CompletenessFigures):
    date: str


class Completeness(Answer):
    enterpriseCode: str
    from_: str = Field(alias="from")
    to: str
    timelinessWindowSeconds: int
    days: list[CompletenessDay]
    total: CompletenessFigures


class MissingRecord(Answer):
    gateNo: str
    barrierNo: str
    recordId: str


class SeqGap(Answer):
    gateNo: str
    barrierNo: str
    from_: int = Field(alias="from")
    to: int


class Missing(Answer):
    """补传 list: what the manifests name but never arrived, and gaps in each barrier's seq numbers."""

    enterpriseCode: str
    date: str
    received: int
    expected: int | None
    uploadRate: Rate
    missingRecordIds: list[MissingRecord]
    seqGaps: list[SeqGap]


class LedgerMix(Answer):
    total: int
    byEmissionStandard: dict[str, int]
    nevShare: Rate
    chinaVIOrNevShare: Rate | None = None
    stage4OrNevShare: Rate | None = None
    stage3OrBetterShare: Rate | None = None
    newSince: str | None = None
    newTotal: int | None = None
    newStage4OrNevShare: Rate | None = None
    agedStage3OrOlder: int | None = None
    agedBefore: str | None = None
    stage3OrOlderAgeUnknown: int | None = None


class PolicyRef(Answer):
    id: str
    version: int
    title: str
    source: str
    validFrom: str


class Requirement(Answer):
    """One requirement of the policy: a figure against a threshold, or anyOf several."""

    id: str
    description: str
    figure: str | None = None
    value: float | None = None
    comparison: str | None = None
    threshold: float | None = None
    anyOf: "list[Requirement] | None" = None
    pass_: bool = Field(alias="pass")


class CleanTransport(Answer):
    enterpriseCode: str
    from_: str = Field(alias="from")
    to: str
    trips: int
    tripsIn: int
    tripsOut: int
    byEmissionStandard: dict[str, int]
    heavyTrips: int
    heavyByEmissionStandard: dict[str, int]
    heavyNevTrips: int
    heavyNevTripShare: Rate
    heavyChinaVIOrNevShare: Rate
    heavyChinaVOrBetterShare: Rate
    roadTonnes: float
    roadNevTonnes: float
    roadTonnesByEmissionStandard: dict[str, float]
    cleanModeTonnes: float
    cleanModeTonnesByMode: dict[str, float]
    cleanTransportRatio: Rate = Field(description="清洁运输比例 clean-mode tonnes / (clean-mode + road tonnes)")
    cleanTransportRatioWithNev: Rate = Field(description="counting new-energy road tonnes as clean")
    inplant: LedgerMix
    nonroad: LedgerMix
    policy: PolicyRef
    requirements: list[Requirement]
    pass_: bool = Field(alias="pass")

"""What gateways get back from uploads (the OpenAPI's response models). The batch answer is built and
encoded by hand on the hot path; tests check it against these models."""

from pydantic import Field

from service.answers import Answer, Issue


class Verdict(Answer):
    index: int = Field(description="the record's place in the batch, from 0")
    recordId: str | None = Field(default=None, description="movements, clean-transport volumes: the record's key")
    envRegCode: str | None = Field(default=None, description="ledger entries: the record's key")
    status: str = Field(description="accepted, duplicate (already held, unchanged), updated (a new version) or "
                                    "rejected")
    version: int | None = None
    contentHash: str | None = Field(default=None, description="sha256 of the canonical content: the receipt")
    late: bool | None = None
    warnings: list[Issue] | None = None
    errors: list[Issue] | None = Field(default=None, description="why the record was rejected")


class BatchAnswer(Answer):
    """A verdict per record; the accepted and updated ones are committed when this answer is sent."""

    received: int
    accepted: int
    duplicates: int
    updated: int
    rejected: int
    results: list[Verdict]


class HeartbeatAnswer(Answer):
    serverTime: str = Field(description="UTC, for the gateway to check its clock")
    skewSeconds: float | None = Field(description="the gateway's sentAt minus the server time")


class PhotoStored(Answer):
    sha256: str
    size: int
    stored: bool = Field(description="false: the service held it already")

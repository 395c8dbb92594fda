"""What every package's response models share: the strict base, issues (errors and warnings), rates, pages."""

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Answer(BaseModel):
    """A response model: the answer holds exactly these keys (an unknown key is a bug, not a silent drop)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Issue(Answer):
    """An error or a warning about one item of a record."""

    field: str = Field(description="the item's JSON key (with the index for list items)", examples=["plateColor"])
    code: str = Field(description="stable, for programs", examples=["invalid_code"])
    message: str = Field(description="for people: the Chinese item name, the key, what is wrong",
                         examples=['号牌颜色 plateColor must be one of 0-6; got "9"'])


class Rate(Answer):
    """A share with what it was computed from; with no denominator its value is null, never 0 or 100 %."""

    value: float | None = Field(description="numerator / denominator, 4 decimals; null when the denominator is 0")
    numerator: int | float | None
    denominator: int | float | None = Field(description="null when it cannot be known (no manifest or seq)")


class Items(Answer, Generic[T]):
    items: list[T]


class Page(Answer, Generic[T]):
    items: list[T]
    nextCursor: str | None = Field(description="pass it back as cursor for the next page; null on the last page")


class Status(Answer):
    status: str = Field(examples=["ok"])

"""Colours and listener weights: the vocabulary of every traffic command."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chatops.errors import UsageError

Colour = Literal["blue", "green"]
COLOURS: tuple[Colour, Colour] = ("blue", "green")


def other(colour: Colour) -> Colour:
    return "green" if colour == "blue" else "blue"


def parse_colour(value: str) -> Colour:
    if value not in COLOURS:
        raise UsageError(f"unknown colour {value!r}", "use blue or green")
    return "blue" if value == "blue" else "green"


@dataclass(frozen=True)
class Weights:
    blue: int
    green: int

    @classmethod
    def parse(cls, values: Sequence[str]) -> Weights:
        """Two whole numbers 0-100 summing to 100, as typed on the command line."""
        if len(values) != 2:
            raise UsageError(
                f"expected two weights, BLUE and GREEN; got {len(values)}",
                "for example: chatops shift 90 10",
            )
        numbers = []
        for value in values:
            text = value.strip()
            if not text.lstrip("-").isdigit():
                raise UsageError(
                    f"weights must be whole numbers from 0 to 100; {value!r} is not one",
                    "for example: chatops shift 90 10",
                )
            number = int(text)
            if not 0 <= number <= 100:
                raise UsageError(
                    f"weights must be whole numbers from 0 to 100; {number} is outside that range",
                    "for example: chatops shift 90 10",
                )
            numbers.append(number)
        blue, green = numbers
        if blue + green != 100:
            raise UsageError(
                f"the weights must sum to 100; blue {blue} + green {green} = {blue + green}",
                f"for example: chatops shift {blue} {100 - blue}",
            )
        return cls(blue=blue, green=green)

    @classmethod
    def all_to(cls, colour: Colour) -> Weights:
        return cls(blue=100, green=0) if colour == "blue" else cls(blue=0, green=100)

    def of(self, colour: Colour) -> int:
        return self.blue if colour == "blue" else self.green

    def holder(self) -> Colour | None:
        """The colour receiving all traffic, if one does."""
        if self.blue == 100:
            return "blue"
        if self.green == 100:
            return "green"
        return None

    def as_dict(self) -> dict[str, int]:
        return {"blue": self.blue, "green": self.green}

    def __str__(self) -> str:
        return f"blue {self.blue}% / green {self.green}%"

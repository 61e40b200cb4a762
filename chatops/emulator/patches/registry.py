"""What a patch is, and the small tools every patch module installs itself with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Revert = Callable[[], None]


@dataclass(frozen=True)
class Patch:
    """One gap in moto and the change that closes it.

    `emulator`: installed in the emulator process. A patch that stands in for the data
    plane where none runs (moto in-process, in unit tests) says False.
    """

    name: str
    gap: str
    install: Callable[[], Revert]
    emulator: bool = True


PrivateHandler = Callable[[dict[str, Any]], dict[str, Any]]

# Requests the emulator answers itself under /__chatops/<name> (POST, JSON in and out),
# for the local data plane to report what really runs. Patches add them when installed.
PRIVATE_ENDPOINTS: dict[str, PrivateHandler] = {}


def private_endpoint(name: str, handler: PrivateHandler) -> Revert:
    PRIVATE_ENDPOINTS[name] = handler

    def revert() -> None:
        PRIVATE_ENDPOINTS.pop(name, None)

    return revert


def replace(owner: Any, attribute: str, value: Any) -> Revert:
    missing = object()
    original = owner.__dict__.get(attribute, missing)
    setattr(owner, attribute, value)

    def revert() -> None:
        if original is missing:
            delattr(owner, attribute)
        else:
            setattr(owner, attribute, original)

    return revert


def chain(*reverts: Revert) -> Revert:
    def revert() -> None:
        for undo in reversed(reverts):
            undo()

    return revert

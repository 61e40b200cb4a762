"""Every traffic action, who took it and why: `chatops history`.

An append-only JSON Lines file beside the traffic record (one per target). Each entry
says when, what (shift, rollback, rollout step, automatic rollback, scale, retire,
stickiness), from and to, the OS user and, on AWS, the caller identity, and the
`--reason` given on the command.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.exceptions


@dataclass(frozen=True)
class Entry:
    at: str
    action: str
    target: str
    user: str
    caller: str | None
    colour: str | None
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def aws_caller(clients: Callable[[str], Any]) -> Callable[[], str | None]:
    """The caller identity ARN of a target's credentials, asked once, when first needed."""
    cache: list[str | None] = []

    def caller() -> str | None:
        if not cache:
            try:
                cache.append(str(clients("sts").get_caller_identity()["Arn"]))
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, KeyError):
                cache.append(None)
        return cache[0]

    return caller


class History:
    def __init__(
        self,
        path: Path,
        target: str,
        caller: Callable[[], str | None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self.target = target
        self.caller = caller
        self.clock = clock

    def record(
        self,
        action: str,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        *,
        colour: str | None = None,
        reason: str | None = None,
    ) -> Entry:
        entry = Entry(
            at=self.clock().isoformat(timespec="seconds"),
            action=action,
            target=self.target,
            user=os_user(),
            caller=self.caller(),
            colour=colour,
            before=dict(before),
            after=dict(after),
            reason=reason or None,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(entry.to_json(), sort_keys=True) + "\n")
        return entry

    def entries(self, limit: int | None = None) -> list[Entry]:
        """Oldest first; the last `limit` when given. Unreadable lines are skipped."""
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            return []
        found: list[Entry] = []
        for line in lines:
            try:
                found.append(Entry(**json.loads(line)))
            except (ValueError, TypeError):
                continue
        return found[-limit:] if limit else found

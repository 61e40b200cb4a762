"""What a preflight check finds: one line, and the fix when something is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Finding:
    """One check's result. `check` is a stable key; `name` what a person reads."""

    check: str
    name: str
    status: Status
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{self.name}: {self.detail}"
        return f"{text}; {self.fix}" if self.fix and self.status != "ok" else text

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Report:
    """Every finding of one preflight, against one account and region."""

    region: str
    account: str | None
    findings: Sequence[Finding]
    seconds: float

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "warn"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "region": self.region,
            "account": self.account,
            "seconds": round(self.seconds, 2),
            "findings": [f.to_json() for f in self.findings],
        }

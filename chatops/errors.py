"""The one family of errors chatops raises for expected failures.

Every error carries a one-line message and, where there is one, a hint saying what
to do next. The CLI prints them on stderr and exits 1 (2 for usage errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ChatopsError(Exception):
    """An expected failure: shown to the user as one line plus a hint."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(ChatopsError):
    """The command line itself is wrong (bad arguments, bad values)."""

    exit_code = 2


class Aborted(ChatopsError):
    """The user declined a confirmation."""


class ConfirmationRequired(ChatopsError):
    """A destructive command would need to prompt, but there is no terminal."""


# --- Terraform ----------------------------------------------------------------------


class TerraformNotFound(ChatopsError):
    pass


class TerraformTooOld(ChatopsError):
    pass


class InitRequired(ChatopsError):
    pass


@dataclass(frozen=True)
class LockInfo:
    """What Terraform reports about the holder of a state lock."""

    id: str
    path: str = ""
    operation: str = ""
    who: str = ""
    version: str = ""
    created: str = ""


class StateLocked(ChatopsError):
    def __init__(self, lock: LockInfo, unlock_command: str) -> None:
        held = ", ".join(
            part
            for part in (
                f"held by {lock.who}" if lock.who else "",
                f"since {lock.created}" if lock.created else "",
                f"for {lock.operation}" if lock.operation else "",
            )
            if part
        )
        super().__init__(
            f"the Terraform state is locked (lock ID {lock.id}{', ' + held if held else ''})",
            "wait for the other run to finish; if it died, release the lock with: "
            + unlock_command,
        )
        self.lock = lock


@dataclass(frozen=True)
class Diagnostic:
    """One error or warning reported by Terraform."""

    severity: str
    summary: str
    detail: str = ""
    address: str = ""

    def one_line(self) -> str:
        text = self.summary
        if self.address:
            text = f"{self.address}: {text}"
        detail = " ".join(self.detail.split())
        if detail:
            text = f"{text}: {detail}"
        return text


class TerraformFailed(ChatopsError):
    def __init__(self, command: str, diagnostics: Sequence[Diagnostic], output: str = "") -> None:
        errors = [d for d in diagnostics if d.severity == "error"]
        if errors:
            first = errors[0].one_line()
            more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
            message = f"terraform {command} failed: {first}{more}"
        else:
            tail = output.strip().splitlines()[-1:] or ["no output"]
            message = f"terraform {command} failed: {tail[0]}"
        super().__init__(message, "fix the error above and run the command again")
        self.command = command
        self.diagnostics = list(diagnostics)


# --- AWS targets --------------------------------------------------------------------


class CredentialsMissing(ChatopsError):
    pass


class UnknownRegion(ChatopsError):
    pass


class EmulatorDown(ChatopsError):
    pass


class EmulatorStartFailed(ChatopsError):
    pass


class StaleLocalState(ChatopsError):
    pass


class ProjectNotFound(ChatopsError):
    pass

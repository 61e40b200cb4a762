"""IAM policy evaluation: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from moto.iam import access_control

from chatops.emulator.patches.registry import Patch, Revert, chain, replace

# The emulator stands in for AWS's HTTPS endpoints, whatever scheme the client used.
_REQUEST_CONTEXT = {"aws:securetransport": "true"}

_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: actual == expected,
    "StringNotEquals": lambda expected, actual: actual != expected,
    "StringEqualsIgnoreCase": lambda expected, actual: actual.lower() == expected.lower(),
    "StringLike": lambda expected, actual: fnmatch.fnmatchcase(actual, expected),
    "StringNotLike": lambda expected, actual: not fnmatch.fnmatchcase(actual, expected),
    "ArnEquals": lambda expected, actual: actual == expected,
    "ArnLike": lambda expected, actual: fnmatch.fnmatchcase(actual, expected),
    "Bool": lambda expected, actual: actual.lower() == expected.lower(),
}


def _conditions_hold(conditions: dict[str, Any], incoming: dict[str, str] | None) -> bool:
    context = {**_REQUEST_CONTEXT, **{k.lower(): str(v) for k, v in (incoming or {}).items()}}
    for operator, pairs in conditions.items():
        base = operator.removesuffix("IfExists")
        check = _OPERATORS.get(base)
        if check is None:
            continue  # operators the stack does not use stay unevaluated, as in moto
        for key, expected in pairs.items():
            actual = context.get(key.lower())
            if actual is None:
                if base == operator:
                    return False
                continue
            values = expected if isinstance(expected, list) else [expected]
            if not any(check(str(value), actual) for value in values):
                return False
    return True


def _install_policy_conditions() -> Revert:
    cls = access_control.IAMPolicyStatement
    original = cls.is_action_permitted

    def is_action_permitted(
        self: Any,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> Any:
        conditions = self._statement.get("Condition")
        if conditions and not _conditions_hold(conditions, incoming_condition_values):
            # A statement whose condition does not hold does not apply at all.
            return access_control.PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming_condition_values)

    return chain(
        replace(cls, "is_action_permitted", is_action_permitted),
        # Conditions were just evaluated; the original check must not veto the result.
        replace(cls, "_check_conditions", lambda self, incoming=None: True),
    )


PATCHES: tuple[Patch, ...] = (
    Patch(
        "iam-policy-conditions",
        "Bucket policy conditions are not evaluated (Bool is ignored) and a statement whose "
        "condition fails counts as a deny: the buckets' DenyInsecureTransport statement "
        "refuses every object write and delete, so destroy cannot empty them.",
        _install_policy_conditions,
    ),
)

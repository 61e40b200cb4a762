"""IAM policy evaluation: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.iam import access_control
from moto.iam import models as iam_models
from moto.iam import responses as iam_responses

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


def _identity_policies(backend: Any, principal_arn: str) -> list[Any]:
    """The identity-based policies of the IAM user or role `principal_arn` names (inline,
    attached, and for a user those of its groups); NoSuchEntity when there is none."""
    kind, _, path_and_name = principal_arn.split(":", 5)[-1].partition("/")
    name = path_and_name.rsplit("/", 1)[-1]
    policies: list[Any] = []
    if kind == "role":
        backend.get_role(name)
        for policy_name in backend.list_role_policies(name):
            policies.append(backend.get_role_policy(name, policy_name)[1])
        policies += backend.list_attached_role_policies(name, max_items=1000)[0]
        return policies
    backend.get_user(name)  # NoSuchEntity, as AWS answers, for anything but a user
    for policy_name in backend.list_user_policies(name):
        policies.append(backend.get_user_policy(name, policy_name))
    policies += backend.list_attached_user_policies(name, max_items=1000)[0]
    for group in backend.get_groups_for_user(name):
        for policy_name in backend.list_group_policies(group.name):
            policies.append(backend.get_group_policy(group.name, policy_name))
        policies += backend.list_attached_group_policies(group.name, max_items=1000)[0]
    return policies


def _decision(policies: list[Any], action: str, resource: str, context: dict[str, str]) -> str:
    permitted = False
    for policy in policies:
        result = access_control.IAMPolicy(policy).is_action_permitted(
            action, resource, incoming_condition_values=context
        )
        if result == access_control.PermissionResult.DENIED:
            return "explicitDeny"
        permitted = permitted or result == access_control.PermissionResult.PERMITTED
    return "allowed" if permitted else "implicitDeny"


def _install_simulate_principal_policy() -> Revert:
    """SimulatePrincipalPolicy over the principal's identity-based policies (no
    permissions boundaries, SCPs or resource policies)."""

    def simulate_principal_policy(self: Any) -> ActionResult:
        policies = _identity_policies(self.backend, self._get_param("PolicySourceArn"))
        context = {
            entry["ContextKeyName"]: ",".join(entry.get("ContextKeyValues") or [])
            for entry in self._get_param("ContextEntries") or []
        }
        results = [
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": _decision(policies, action, resource, context),
                "MatchedStatements": [],
                "MissingContextValues": [],
            }
            for action in self._get_param("ActionNames") or []
            for resource in self._get_param("ResourceArns") or ["*"]
        ]
        return ActionResult({"EvaluationResults": results, "IsTruncated": False})

    return replace(
        iam_responses.IamResponse, "simulate_principal_policy", simulate_principal_policy
    )


# AWS's names for the service-linked roles the stack's services create on first use.
_SERVICE_LINKED_ROLE_NAMES = {
    "ecs": "ECS",
    "elasticloadbalancing": "ElasticLoadBalancing",
    "elasticache": "ElastiCache",
}


def _install_service_linked_role_names() -> Revert:
    table = iam_models.SERVICE_NAME_CONVERSION
    before = dict(table)
    table.update(_SERVICE_LINKED_ROLE_NAMES)

    def revert() -> None:
        table.clear()
        table.update(before)

    return revert


PATCHES: tuple[Patch, ...] = (
    Patch(
        "iam-policy-conditions",
        "Bucket policy conditions are not evaluated (Bool is ignored) and a statement whose "
        "condition fails counts as a deny: the buckets' DenyInsecureTransport statement "
        "refuses every object write and delete, so destroy cannot empty them.",
        _install_policy_conditions,
    ),
    Patch(
        "iam-simulate-principal-policy",
        "SimulatePrincipalPolicy is not implemented: nothing tells whether a user or role "
        "may create the service-linked roles a first deploy needs.",
        _install_simulate_principal_policy,
    ),
    Patch(
        "iam-service-linked-role-names",
        "CreateServiceLinkedRole names the roles of ECS, ELB and ElastiCache "
        "AWSServiceRoleForecs and the like, where AWS names them AWSServiceRoleForECS, "
        "AWSServiceRoleForElasticLoadBalancing and AWSServiceRoleForElastiCache.",
        _install_service_linked_role_names,
    ),
)

"""STS: who may assume a role, as the role's trust policy says.

moto's AssumeRole hands out credentials for any role ARN to any caller, so a task role
whose trust policy does not name ``ecs-tasks.amazonaws.com`` (or names it under a
condition that does not hold) works here and fails on AWS. The ``sts-role-trust`` rule
evaluates the trust policy against the caller: an IAM user, an assumed role, the
account's own keys (the emulator's, which stand for the account root), or a service.

A service principal exists only on AWS's side; the local ECS agent assumes task and
execution roles on the tasks' behalf and says so with `SERVICE_PRINCIPAL_HEADER` (plus
the source account and ARN AWS puts in the request context), as ECS does on AWS.

Evaluated: Allow and Deny statements, Principal (AWS, Service, "*"), Action and
NotAction, and the conditions of ``iam._conditions_hold``. Not evaluated: Federated
principals, session tags, external IDs, the caller's own permission to call
sts:AssumeRole (the emulator's keys may do anything).
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from moto.core.exceptions import AccessDeniedError
from moto.iam.models import iam_backends
from moto.sts import models as sts_models
from moto.sts.models import sts_backends
from moto.sts.responses import TokenResponse
from moto.utilities.utils import get_partition

from chatops.emulator.patches.iam import _conditions_hold
from chatops.emulator.patches.registry import Patch, Revert, replace

SERVICE_PRINCIPAL_HEADER = "X-Chatops-Service-Principal"
SOURCE_ACCOUNT_HEADER = "X-Chatops-Source-Account"
SOURCE_ARN_HEADER = "X-Chatops-Source-Arn"


def _denied(caller: str, role_arn: str) -> AccessDeniedError:
    """AWS's answer to an AssumeRole the trust policy does not allow (403 AccessDenied)."""
    return AccessDeniedError(caller, f"sts:AssumeRole on resource: {role_arn}")


def _values(element: Any) -> list[str]:
    if element is None:
        return []
    return [str(v) for v in element] if isinstance(element, list) else [str(element)]


def _role_arn_of(principal_arn: str) -> str:
    """An assumed-role session ARN's role ARN (trust policies name roles, not sessions)."""
    if ":assumed-role/" not in principal_arn:
        return principal_arn
    prefix, _, rest = principal_arn.partition(":assumed-role/")
    return prefix.replace(":sts:", ":iam:") + ":role/" + rest.split("/")[0]


def principal_matches(principal: Any, caller: str, *, service: bool) -> bool:
    """Whether a statement's Principal names the caller (a service name or an ARN)."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if service:
        return caller in _values(principal.get("Service"))
    account = caller.split(":")[4] if caller.count(":") >= 5 else ""
    for value in _values(principal.get("AWS")):
        if value == "*" or value == caller or value == _role_arn_of(caller):
            return True
        # Naming the account (or its root) trusts every principal of that account.
        if account and value in (account, f"arn:{caller.split(':')[1]}:iam::{account}:root"):
            return True
    return False


def trust_allows(document: str, caller: str, *, service: bool, context: dict[str, str]) -> bool:
    """Whether the trust policy lets `caller` call sts:AssumeRole (an explicit Deny wins)."""
    policy = json.loads(document)
    statements = policy.get("Statement", [])
    allowed = False
    for statement in statements if isinstance(statements, list) else [statements]:
        if "NotAction" in statement:
            concerned = not any(
                fnmatch.fnmatch("sts:assumerole", a.lower())
                for a in _values(statement["NotAction"])
            )
        else:
            concerned = any(
                fnmatch.fnmatch("sts:assumerole", a.lower())
                for a in _values(statement.get("Action"))
            )
        if not concerned or not principal_matches(
            statement.get("Principal"), caller, service=service
        ):
            continue
        if not _conditions_hold(statement.get("Condition") or {}, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def caller_arn(account_id: str, partition: str, access_key_id: str) -> str:
    """The principal behind an access key: an assumed role, an IAM user, or else (the
    emulator's own keys) the account root."""
    assumed = sts_backends[account_id][partition].get_assumed_role_from_access_key(access_key_id)
    if assumed is not None:
        return str(assumed.arn)
    user = iam_backends[account_id][partition].get_user_from_access_key_id(access_key_id)
    if user is not None:
        return str(user.arn)
    return f"arn:{partition}:iam::{account_id}:root"


def _install_role_trust() -> Revert:
    original = TokenResponse.assume_role

    def assume_role(self: Any) -> Any:
        role_arn = str(self._get_param("RoleArn") or "")
        account = self.current_account
        partition = get_partition(self.region)
        service = self.headers.get(SERVICE_PRINCIPAL_HEADER)
        context: dict[str, str] = {}
        if service:
            caller = str(service)
            for key, header in (
                ("aws:SourceAccount", SOURCE_ACCOUNT_HEADER),
                ("aws:SourceArn", SOURCE_ARN_HEADER),
            ):
                if self.headers.get(header):
                    context[key] = str(self.headers[header])
        else:
            caller = caller_arn(account, partition, self.get_access_key())
            context["aws:PrincipalArn"] = _role_arn_of(caller)
            context["aws:PrincipalAccount"] = caller.split(":")[4]
        role_account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else account
        try:
            role = iam_backends[role_account][partition].get_role_by_arn(role_arn)
        except Exception:  # noqa: BLE001 - AWS answers a missing role like a refused one
            raise _denied(caller, role_arn) from None
        if not trust_allows(
            role.assume_role_policy_document, caller, service=bool(service), context=context
        ):
            raise _denied(caller, role_arn)
        return original(self)

    return replace(TokenResponse, "assume_role", assume_role)


def _install_root_caller() -> Revert:
    cls = sts_models.STSBackend
    original = cls.get_caller_identity

    def get_caller_identity(self: Any, access_key_id: str, region: str) -> tuple[str, str, str]:
        user_id, arn, account = original(self, access_key_id, region)
        if arn.endswith(":user/moto"):  # keys IAM does not know: the emulator's own
            return account, f"arn:{get_partition(region)}:iam::{account}:root", account
        return user_id, arn, account

    return replace(cls, "get_caller_identity", get_caller_identity)


PATCHES: tuple[Patch, ...] = (
    Patch(
        "sts-role-trust",
        "AssumeRole ignores the role's trust policy: any caller, and any service, gets "
        "credentials for any role, so a task role that ECS tasks may not assume works here.",
        _install_role_trust,
    ),
    Patch(
        "sts-root-caller",
        "GetCallerIdentity answers an IAM user 'moto' that does not exist for the emulator's "
        "own keys, which every other rule treats as the account root's: the preflight then "
        "cannot tell whether the caller may create service-linked roles.",
        _install_root_caller,
    ),
)

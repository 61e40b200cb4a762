"""IAM policy evaluation: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from moto.core.exceptions import JsonRESTError, _RESTError
from moto.core.responses import ActionResult
from moto.iam import access_control
from moto.iam import models as iam_models
from moto.iam import responses as iam_responses
from moto.iam.models import iam_backends
from moto.utilities.utils import get_partition

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


# --- iam-role-sessions: what credentials issued to a role may do ------------------------

# Access keys STS issues (role sessions) start so; the emulator's own keys do not, so
# Terraform's calls and the data plane's stay unevaluated, as the account root's would be.
ROLE_SESSION_PREFIX = "ASIA"
# Signing names whose IAM action prefix is another word.
_ACTION_PREFIXES = {"monitoring": "cloudwatch"}


class _JsonAccessDenied(JsonRESTError):
    code = 400  # what DynamoDB, SSM and the other JSON APIs answer


class _QueryAccessDenied(_RESTError):
    code = 403


@functools.lru_cache(maxsize=256)
def _statements(document: str) -> tuple[dict[str, Any], ...]:
    statements = json.loads(document).get("Statement", [])
    return tuple(statements if isinstance(statements, list) else [statements])


def _listed(element: Any) -> list[str]:
    return [str(v) for v in element] if isinstance(element, list) else [str(element)]


def _statement_applies(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, str]
) -> bool:
    if "NotAction" in statement:
        if any(fnmatch.fnmatch(action, a.lower()) for a in _listed(statement["NotAction"])):
            return False
    elif not any(fnmatch.fnmatch(action, a.lower()) for a in _listed(statement.get("Action", []))):
        return False
    if "NotResource" in statement:
        if any(fnmatch.fnmatchcase(resource, r) for r in _listed(statement["NotResource"])):
            return False
    elif not any(fnmatch.fnmatchcase(resource, r) for r in _listed(statement.get("Resource", []))):
        return False
    return _conditions_hold(statement.get("Condition") or {}, context)


def policy_decision(
    documents: list[str], action: str, resource: str, context: dict[str, str]
) -> str:
    """ "allow", "deny" (an explicit Deny) or "implicit" (nothing allows it), as IAM decides
    within one account from identity-based policies."""
    allowed = False
    for document in documents:
        for statement in _statements(document):
            if _statement_applies(statement, action.lower(), resource, context):
                if statement.get("Effect") == "Deny":
                    return "deny"
                allowed = True
    return "allow" if allowed else "implicit"


def role_policies(role: Any) -> list[str]:
    """The documents of a role's inline and attached managed policies."""
    documents = [str(document) for document in role.policies.values()]
    for policy in role.managed_policies.values():
        documents += [str(v.document) for v in policy.versions if v.is_default]
    return documents


def _request_parameters(response: Any) -> dict[str, Any]:
    if response.headers.get("X-Amz-Target"):
        try:
            body = response.raw_body
            parsed = json.loads(body.decode() if isinstance(body, bytes) else body or "{}")
            return parsed if isinstance(parsed, dict) else {}
        except ValueError:
            return {}
    return {key: values[0] for key, values in response.querystring.items() if values}


def request_resources(
    service: str, parameters: dict[str, Any], region: str, account: str
) -> list[str]:
    """The resource ARNs an action is authorized against, for the services whose
    resources the stack's policies name; "*" for the rest."""
    partition = get_partition(region)

    def arn(kind: str, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return f"arn:{partition}:{service}:{region}:{account}:{kind}{name}"

    found: list[str] = []
    if service == "dynamodb":
        if parameters.get("TableName"):
            table = arn("table/", str(parameters["TableName"]))
            index = parameters.get("IndexName")
            found.append(f"{table}/index/{index}" if index else table)
        found += [arn("table/", str(name)) for name in parameters.get("RequestItems") or {}]
        for item in parameters.get("TransactItems") or []:
            found += [
                arn("table/", str(op["TableName"])) for op in item.values() if "TableName" in op
            ]
    elif service == "ssm":
        names = parameters.get("Names") or ([parameters["Name"]] if parameters.get("Name") else [])
        found += [arn("parameter/", str(name).lstrip("/")) for name in names]
    elif service == "secretsmanager" and parameters.get("SecretId"):
        from moto.secretsmanager.models import secretsmanager_backends

        secret_id = str(parameters["SecretId"])
        try:
            secret = secretsmanager_backends[account][region].describe_secret(secret_id)
            found.append(str(secret.arn))
        except Exception:  # noqa: BLE001 - a missing secret is the service's own error
            found.append(arn("secret:", secret_id))
    return found or ["*"]


def _condition_context(
    service: str, operation: str, parameters: dict[str, Any], region: str, principal: str
) -> dict[str, str]:
    context = {"aws:RequestedRegion": region, "aws:PrincipalArn": principal}
    if service == "cloudwatch" and operation == "PutMetricData" and parameters.get("Namespace"):
        context["cloudwatch:namespace"] = str(parameters["Namespace"])
    return context


def authorize_role_session(response: Any) -> None:
    """Refuse, as IAM would, a request signed by a role session that the role's
    policies (and the session policy, when one was passed) do not allow."""
    from moto.iam.access_control import IAMRequest
    from moto.sts.models import sts_backends

    authorization = response.headers.get("Authorization", "")
    scope = authorization.partition("Credential=")[2].split(",")[0].split("/")
    if len(scope) < 4 or not scope[0].startswith(ROLE_SESSION_PREFIX):
        return
    access_key, region, signing_name = scope[0], scope[2], scope[3]
    operation = response._get_action()
    account = response.current_account
    parsed = urlparse(response.uri)
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    # moto's own checks of the key, its session token and the signature.
    IAMRequest(
        account_id=account,
        method=response.method,
        path=path,
        data=response.data,
        body=response.raw_body,
        headers=response.headers,
        action=operation,
    ).check_signature()
    partition = get_partition(region)
    session = sts_backends[account][partition].get_assumed_role_from_access_key(access_key)
    if session is None:
        return
    try:
        documents = role_policies(
            iam_backends[account][partition].get_role_by_arn(session.role_arn)
        )
    except Exception:  # noqa: BLE001 - a deleted role's sessions may do nothing
        documents = []
    service = _ACTION_PREFIXES.get(signing_name, signing_name)
    action = f"{service}:{operation}"
    parameters = _request_parameters(response)
    context = _condition_context(service, operation, parameters, region, session.role_arn)
    for resource in request_resources(service, parameters, region, account):
        decision = policy_decision(documents, action, resource, context)
        reason = {
            "deny": "with an explicit deny in an identity-based policy",
            "implicit": f"because no identity-based policy allows the {action} action",
        }.get(decision)
        if reason is None and session.policy:
            if policy_decision([session.policy], action, resource, context) != "allow":
                reason = f"because no session policy allows the {action} action"
        if reason is not None:
            message = (
                f"User: {session.arn} is not authorized to perform: {action} "
                f"on resource: {resource} {reason}"
            )
            if response.headers.get("X-Amz-Target"):
                raise _JsonAccessDenied("AccessDeniedException", message)
            raise _QueryAccessDenied("AccessDenied", message)


def _install_role_sessions() -> Revert:
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate_and_authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if iam_request_cls is IAMRequest:  # S3 requests keep moto's own path
            authorize_role_session(self)
        original(self, iam_request_cls, resource)

    return replace(
        ActionAuthenticatorMixin, "_authenticate_and_authorize_action", authenticate_and_authorize
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
        "iam-role-sessions",
        "Requests signed with credentials issued to a role are not authorized: a task can "
        "do anything whatever its task role allows, so a missing permission shows only on AWS.",
        _install_role_sessions,
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

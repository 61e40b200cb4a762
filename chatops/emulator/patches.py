"""Compatibility patches for moto 5.2 against hashicorp/aws 5.100.

Each patch closes one gap found by applying this stack's root module to moto: without
it an apply fails, a destroy hangs, or the plan after an apply is not empty. They are
applied in the emulator process before it serves (``apply_all``) and can be applied
and reverted one at a time (``patched``) so tests can show each gap and its fix.
"""

from __future__ import annotations

import datetime
import fnmatch
import ipaddress
import json
import math
import random
import re
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.budgets import exceptions as budgets_exceptions
from moto.budgets import responses as budgets_responses
from moto.cloudfront import exceptions as cloudfront_exceptions
from moto.cloudfront import models as cloudfront_models
from moto.cloudfront import responses as cloudfront_responses
from moto.cloudfront import urls as cloudfront_urls
from moto.cloudwatch import models as cloudwatch_models
from moto.cloudwatch import responses as cloudwatch_responses
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import camelcase_to_underscores, utcnow
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.models import table as dynamodb_table
from moto.ec2.models import ec2_backends
from moto.ec2.models import security_groups as security_group_models
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from moto.elasticache import exceptions as elasticache_exceptions
from moto.elasticache import models as elasticache_models
from moto.elasticache import responses as elasticache_responses
from moto.elbv2 import exceptions as elbv2_exceptions
from moto.elbv2 import models as elbv2_models
from moto.elbv2.models import elbv2_backends
from moto.iam import access_control
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses

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


def _private_endpoint(name: str, handler: PrivateHandler) -> Revert:
    PRIVATE_ENDPOINTS[name] = handler

    def revert() -> None:
        PRIVATE_ENDPOINTS.pop(name, None)

    return revert


def _replace(owner: Any, attribute: str, value: Any) -> Revert:
    missing = object()
    original = owner.__dict__.get(attribute, missing)
    setattr(owner, attribute, value)

    def revert() -> None:
        if original is missing:
            delattr(owner, attribute)
        else:
            setattr(owner, attribute, original)

    return revert


def _chain(*reverts: Revert) -> Revert:
    def revert() -> None:
        for undo in reversed(reverts):
            undo()

    return revert


# --- ElastiCache ------------------------------------------------------------------


def _member_cluster_ids(group_id: str, count: int) -> list[str]:
    return [f"{group_id}-{index:03d}" for index in range(1, count + 1)]


def _install_replication_group_members() -> Revert:
    backend_cls = elasticache_models.ElastiCacheBackend
    original = backend_cls.create_replication_group

    def create_replication_group(self: Any, **kwargs: Any) -> Any:
        group = original(self, **kwargs)
        if group.cluster_mode == "enabled":
            return group
        count = kwargs.get("num_cache_clusters") or (kwargs.get("replicas_per_node_group") or 0) + 1
        zones = kwargs.get("preferred_cache_cluster_azs") or []
        node_group = group.node_groups[0]
        template = node_group["node_group_members"][0]
        domain = node_group["primary_endpoint_address"].removeprefix("master.")
        members = []
        for index, cluster_id in enumerate(_member_cluster_ids(group.replication_group_id, count)):
            zone = zones[index % len(zones)] if zones else f"{self.region_name}a"
            members.append(
                {
                    "cache_cluster_id": cluster_id,
                    "cache_node_id": template["cache_node_id"],
                    "read_endpoint": {"address": f"{cluster_id}.{domain}", "port": group.port},
                    "preferred_availability_zone": zone,
                    "current_role": "primary" if index == 0 else "replica",
                }
            )
            if cluster_id in self.cache_clusters:
                continue
            cluster: Any = elasticache_models.CacheCluster(
                account_id=self.account_id,
                region_name=self.region_name,
                cache_cluster_id=cluster_id,
                cache_node_type=group.cache_node_type,
                replication_group_id=group.replication_group_id,
                az_mode="single-az",
                preferred_availability_zone=zone,
                num_cache_nodes=1,
                engine=group.engine,
                engine_version=group.engine_version,
                cache_parameter_group_name=group.cache_parameter_group_name,
                cache_subnet_group_name=group.cache_subnet_group_name,
                transit_encryption_enabled=group.transit_encryption_enabled,
                network_type=group.network_type,
                ip_discovery=group.ip_discovery,
                snapshot_name=None,
                preferred_maintenance_window=group.preferred_maintenance_window,
                port=group.port,
                notification_topic_arn=group.notification_topic_arn,
                auto_minor_version_upgrade=group.auto_minor_version_upgrade,
                snapshot_retention_limit=group.snapshot_retention_limit,
                snapshot_window=group.snapshot_window,
                auth_token=kwargs.get("auth_token"),
                outpost_mode=None,
                preferred_outpost_arn=None,
                preferred_availability_zones=None,
                cache_security_group_names=group.cache_security_group_names,
                security_group_ids=group.security_group_ids,
                tags=None,
                snapshot_arns=None,
                preferred_outpost_arns=None,
                log_delivery_configurations=[],
                cache_node_ids_to_remove=None,
                cache_node_ids_to_reboot=None,
            )
            cluster.preferred_availability_zone = zone
            cluster.at_rest_encryption_enabled = group.at_rest_encryption_enabled
            self.cache_clusters[cluster_id] = cluster
        node_group["node_group_members"] = members
        group.member_clusters[:] = [member["cache_cluster_id"] for member in members]
        group.primary_cluster_id = members[0]["cache_cluster_id"]
        return group

    return _replace(backend_cls, "create_replication_group", create_replication_group)


def _install_replication_group_deletion() -> Revert:
    backend_cls = elasticache_models.ElastiCacheBackend
    original = backend_cls.delete_replication_group

    def delete_replication_group(
        self: Any, replication_group_id: str, retain_primary_cluster: bool | None
    ) -> Any:
        if replication_group_id not in self.replication_groups:
            return original(self, replication_group_id, retain_primary_cluster)  # NotFound
        members = list(self.replication_groups[replication_group_id].member_clusters)
        primary = members[0] if members else None
        group = original(self, replication_group_id, retain_primary_cluster)
        # The response says "deleting"; the next describe finds nothing, as on AWS once done.
        del self.replication_groups[replication_group_id]
        for cluster_id in members:
            if retain_primary_cluster and cluster_id == primary:
                self.cache_clusters[cluster_id].replication_group_id = None
                continue
            self.cache_clusters.pop(cluster_id, None)
        return group

    return _replace(backend_cls, "delete_replication_group", delete_replication_group)


class CacheSubnetGroupInUse(elasticache_exceptions.ElastiCacheException):
    code = "CacheSubnetGroupInUse"

    def __init__(self, name: str) -> None:
        super().__init__(f"Cache subnet group {name} is currently in use by a cache cluster.")


def _install_delete_cache_subnet_group() -> Revert:
    def backend_delete(self: Any, cache_subnet_group_name: str) -> Any:
        if cache_subnet_group_name not in self.cache_subnet_groups:
            raise elasticache_exceptions.CacheSubnetGroupNotFound(cache_subnet_group_name)
        users = list(self.cache_clusters.values()) + list(self.replication_groups.values())
        if any(user.cache_subnet_group_name == cache_subnet_group_name for user in users):
            raise CacheSubnetGroupInUse(cache_subnet_group_name)
        return self.cache_subnet_groups.pop(cache_subnet_group_name)

    def response_delete(self: Any) -> Any:
        self.elasticache_backend.delete_cache_subnet_group(self._get_param("CacheSubnetGroupName"))
        return EmptyResult()

    return _chain(
        _replace(
            elasticache_models.ElastiCacheBackend, "delete_cache_subnet_group", backend_delete
        ),
        _replace(
            elasticache_responses.ElastiCacheResponse, "delete_cache_subnet_group", response_delete
        ),
    )


def _install_reader_endpoint() -> Revert:
    cls = elasticache_models.ReplicationGroup
    original = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        for node_group in self.node_groups:
            address = node_group.get("reader_endpoint_address")
            if address and "reader_endpoint" not in node_group:
                node_group["reader_endpoint"] = {"address": address, "port": self.port}

    return _replace(cls, "__init__", __init__)


def _install_cache_cluster_security_groups() -> Revert:
    def security_groups(self: Any) -> list[dict[str, str]]:
        return [{"SecurityGroupId": group, "Status": "active"} for group in self.security_group_ids]

    return _replace(elasticache_models.CacheCluster, "security_groups", property(security_groups))


# --- CloudFront -------------------------------------------------------------------


def _install_default_certificate() -> Revert:
    cls = cloudfront_models.ViewerCertificate
    original = cls.__init__

    def __init__(self: Any, config: dict[str, Any]) -> None:
        original(self, config)
        if str(self.cloud_front_default_certificate).lower() == "true" and not (
            config.get("ACMCertificateArn") or config.get("IAMCertificateId")
        ):
            # AWS describes the *.cloudfront.net certificate with no ACM/IAM fields.
            self.iam_certificate_id = None
            self.acm_certificate_arn = None
            self.certificate = None
            self.ssl_support_method = config.get("SSLSupportMethod") or "vip"

    return _replace(cls, "__init__", __init__)


def _install_cache_policy_behaviours() -> Revert:
    cls = cloudfront_models.DefaultCacheBehaviour
    original = cls.__init__

    def __init__(self: Any, config: dict[str, Any]) -> None:
        legacy = "ForwardedValues" in config
        original(self, config)
        if config.get("CachePolicyId") and not legacy:
            # A behaviour driven by a cache policy has no legacy ForwardedValues.
            self.forwarded_values = None

    return _replace(cls, "__init__", __init__)


def _install_origin_access_control() -> Revert:
    cls = cloudfront_models.Origin
    original = cls.__init__

    def __init__(self: Any, origin: dict[str, Any]) -> None:
        original(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""

    return _replace(cls, "__init__", __init__)


class NoSuchResponseHeadersPolicy(cloudfront_exceptions.CloudFrontException):
    code = "NoSuchResponseHeadersPolicy"

    def __init__(self) -> None:
        super().__init__("The response headers policy does not exist.")


_RESPONSE_HEADERS_PATHS = {
    "{0}/2020-05-31/response-headers-policy$": cloudfront_responses.CloudFrontResponse.dispatch,
    "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)$": (
        cloudfront_responses.CloudFrontResponse.dispatch
    ),
    "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)/config$": (
        cloudfront_responses.CloudFrontResponse.dispatch
    ),
}


def _install_response_headers_policies() -> Revert:
    cls = cloudfront_responses.CloudFrontResponse

    def policies(response: Any) -> dict[str, dict[str, Any]]:
        backend = response.backend
        if not hasattr(backend, "response_headers_policies"):
            backend.response_headers_policies = {}
        store: dict[str, dict[str, Any]] = backend.response_headers_policies
        return store

    def find(response: Any) -> dict[str, Any]:
        policy = policies(response).get(response._get_param("Id"))
        if policy is None:
            raise NoSuchResponseHeadersPolicy()
        return policy

    def described(policy: dict[str, Any]) -> Any:
        return ActionResult(
            {
                "ResponseHeadersPolicy": {
                    "Id": policy["Id"],
                    "LastModifiedTime": policy["LastModifiedTime"],
                    "ResponseHeadersPolicyConfig": policy["Config"],
                },
                "ETag": policy["ETag"],
            }
        )

    def create(self: Any) -> Any:
        policy = {
            "Id": cloudfront_models.random_id(),
            "LastModifiedTime": utcnow(),
            "Config": self._get_param("ResponseHeadersPolicyConfig", {}),
            "ETag": cloudfront_models.random_id(),
        }
        policies(self)[policy["Id"]] = policy
        result = described(policy)
        result.result["Location"] = (
            f"https://cloudfront.amazonaws.com/2020-05-31/response-headers-policy/{policy['Id']}"
        )
        return result

    def get(self: Any) -> Any:
        return described(find(self))

    def get_config(self: Any) -> Any:
        policy = find(self)
        return ActionResult(
            {"ResponseHeadersPolicyConfig": policy["Config"], "ETag": policy["ETag"]}
        )

    def update(self: Any) -> Any:
        policy = find(self)
        policy.update(
            Config=self._get_param("ResponseHeadersPolicyConfig", {}),
            LastModifiedTime=utcnow(),
            ETag=cloudfront_models.random_id(),
        )
        return described(policy)

    def delete(self: Any) -> Any:
        policies(self).pop(find(self)["Id"])
        return EmptyResult()

    def list_policies(self: Any) -> Any:
        items = [
            {
                "Type": "custom",
                "ResponseHeadersPolicy": {
                    "Id": p["Id"],
                    "LastModifiedTime": p["LastModifiedTime"],
                    "ResponseHeadersPolicyConfig": p["Config"],
                },
            }
            for p in policies(self).values()
        ]
        return ActionResult(
            {"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}}
        )

    reverts = [
        _replace(cls, "create_response_headers_policy", create),
        _replace(cls, "get_response_headers_policy", get),
        _replace(cls, "get_response_headers_policy_config", get_config),
        _replace(cls, "update_response_headers_policy", update),
        _replace(cls, "delete_response_headers_policy", delete),
        _replace(cls, "list_response_headers_policies", list_policies),
    ]
    added = [path for path in _RESPONSE_HEADERS_PATHS if path not in cloudfront_urls.url_paths]
    cloudfront_urls.url_paths.update(_RESPONSE_HEADERS_PATHS)

    def remove_paths() -> None:
        for path in added:
            cloudfront_urls.url_paths.pop(path, None)

    return _chain(*reverts, remove_paths)


# --- EC2 --------------------------------------------------------------------------


def _install_referenced_rule_description() -> Revert:
    cls = security_group_models.SecurityGroupRule

    def description(self: Any) -> str | None:
        value = self.ip_range.get("Description") or self.source_group.get("Description")
        return str(value) if value else None

    return _replace(cls, "description", property(description))


# --- ELBv2 targets ----------------------------------------------------------------
#
# On AWS a target is an (Id, Port) pair: ECS registers every task of an awsvpc service
# as (task IP, container port). Local tasks share 127.0.0.1 and differ by port, so the
# pair is the only key that tells them apart. Health is what the local data plane's
# checks measure; a deregistered target drains for the group's deregistration delay.

_TARGET_KEYS = {"with_port": False}


def _target_port(group: Any, target: dict[str, Any]) -> int:
    return int(target.get("Port") or group.port)


def _target_key(group: Any, target: dict[str, Any]) -> Any:
    """How the target group keys a target: (Id, Port) with `elbv2-target-ports`, else Id."""
    if _TARGET_KEYS["with_port"]:
        return (target["Id"], _target_port(group, target))
    return target["Id"]


def _health(
    group: Any,
    target: dict[str, Any],
    state: str,
    reason: str | None = None,
    description: str | None = None,
) -> Any:
    return elbv2_models.FakeHealthStatus(
        target["Id"],
        str(_target_port(group, target)),
        group.health_check_port,
        state,
        reason,
        description,
    )


def _find_target_group(arn: str) -> Any:
    """The target group with this ARN in whichever account and region holds it."""
    parts = arn.split(":")
    if len(parts) < 6:
        return None
    region, account = parts[3], parts[4]
    try:
        return elbv2_backends[account][region].target_groups.get(arn)
    except KeyError:
        return None


def _install_target_ports() -> Revert:
    cls = elbv2_models.FakeTargetGroup
    original_health_for = cls.health_for

    def register(self: Any, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            if instance := self.ec2_backend.get_instance_by_id(target["Id"]):
                if instance.state != "running":
                    raise elbv2_exceptions.TargetNotRunning(instance_id=target["Id"])
            key = _target_key(self, target)
            self.targets[key] = {"Id": target["Id"], "Port": _target_port(self, target)}
            self.deregistered_targets.pop(key, None)

    def deregister(self: Any, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            key = _target_key(self, target)
            registered = self.targets.pop(key, None)
            if not registered:
                raise elbv2_exceptions.InvalidTargetError()
            self.deregistered_targets[key] = registered

    def deregister_terminated_instances(self: Any, instance_ids: list[str]) -> None:
        for key in list(self.targets):
            if key[0] in instance_ids:
                self.terminated_targets[key] = self.targets.pop(key)

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        key = _target_key(self, target)
        if key in self.targets:
            registered = self.targets[key]
            status = original_health_for(self, {"Id": key, "Port": key[1]}, ec2_backend)
            status.instance_id, status.port = registered["Id"], registered["Port"]
            return status
        if key in self.deregistered_targets:
            return _health(
                self,
                target,
                "unused",
                "Target.NotRegistered",
                "Target is not registered to the target group",
            )
        if key in self.terminated_targets:
            return _health(
                self,
                target,
                "draining",
                "Target.DeregistrationInProgress",
                "Target deregistration is in progress",
            )
        return _health(
            self, target, "unavailable", "Target.NotRegistered", "Target is not registered"
        )

    def install_flag() -> Revert:
        _TARGET_KEYS["with_port"] = True

        def revert() -> None:
            _TARGET_KEYS["with_port"] = False

        return revert

    return _chain(
        _replace(cls, "register", register),
        _replace(cls, "deregister", deregister),
        _replace(cls, "deregister_terminated_instances", deregister_terminated_instances),
        _replace(cls, "health_for", health_for),
        install_flag(),
    )


def _draining(group: Any) -> dict[Any, tuple[dict[str, Any], float]]:
    """Targets of `group` still draining: key -> (target, end of the delay); expired ones go."""
    store: dict[Any, tuple[dict[str, Any], float]] = group.__dict__.setdefault(
        "chatops_draining", {}
    )
    now = time.time()
    for key in [key for key, (_, ends) in store.items() if ends <= now]:
        del store[key]
    return store


def _install_deregistration_delay() -> Revert:
    cls = elbv2_models.FakeTargetGroup
    backend_cls = elbv2_models.ELBv2Backend
    original_register = cls.register
    original_deregister = cls.deregister
    original_health_for = cls.health_for
    original_describe = backend_cls.describe_target_health

    def register(self: Any, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            _draining(self).pop(_target_key(self, target), None)
        original_register(self, targets)

    def deregister(self: Any, targets: list[dict[str, Any]]) -> None:
        known = {
            _target_key(self, t): dict(self.targets[_target_key(self, t)])
            for t in targets
            if _target_key(self, t) in self.targets
        }
        original_deregister(self, targets)
        delay = float(self.attributes.get("deregistration_delay.timeout_seconds") or 0)
        if delay > 0:
            for key, target in known.items():
                _draining(self)[key] = (target, time.time() + delay)

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        key = _target_key(self, target)
        if key not in self.targets and key in _draining(self):
            return _health(
                self,
                target,
                "draining",
                "Target.DeregistrationInProgress",
                "Target deregistration is in progress",
            )
        return original_health_for(self, target, ec2_backend)

    def describe_target_health(
        self: Any, target_group_arn: str, targets: list[dict[str, Any]]
    ) -> Any:
        group = self.target_groups.get(target_group_arn)
        if group is not None and not targets:
            draining = [target for target, _ in _draining(group).values()]
            targets = list(group.targets.values()) + draining
        return original_describe(self, target_group_arn, targets)

    return _chain(
        _replace(cls, "register", register),
        _replace(cls, "deregister", deregister),
        _replace(cls, "health_for", health_for),
        _replace(backend_cls, "describe_target_health", describe_target_health),
    )


def _reported_health(group: Any) -> dict[Any, tuple[str, str | None, str | None]]:
    store: dict[Any, tuple[str, str | None, str | None]] = group.__dict__.setdefault(
        "chatops_health", {}
    )
    return store


def set_target_health(body: dict[str, Any]) -> dict[str, Any]:
    """The data plane's health check results: `{"Targets": [{TargetGroupArn, Id, Port,
    State, Reason?, Description?}]}`. Targets no longer registered are ignored (a check
    that finished after a deregistration) and listed in the answer."""
    updated, ignored = 0, []
    for report in body.get("Targets", []):
        group = _find_target_group(str(report.get("TargetGroupArn", "")))
        key = _target_key(group, report) if group is not None else None
        if group is None or key not in group.targets:
            ignored.append({"Id": report.get("Id"), "Port": report.get("Port")})
            continue
        _reported_health(group)[key] = (
            str(report["State"]),
            report.get("Reason"),
            report.get("Description"),
        )
        updated += 1
    return {"updated": updated, "ignored": ignored}


def _install_target_health() -> Revert:
    cls = elbv2_models.FakeTargetGroup
    original_register = cls.register
    original_deregister = cls.deregister
    original_health_for = cls.health_for

    def register(self: Any, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            _reported_health(self).pop(_target_key(self, target), None)
        original_register(self, targets)

    def deregister(self: Any, targets: list[dict[str, Any]]) -> None:
        original_deregister(self, targets)
        for target in targets:
            _reported_health(self).pop(_target_key(self, target), None)

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        status = original_health_for(self, target, ec2_backend)
        key = _target_key(self, target)
        if status.status != "healthy" or key not in self.targets:
            return status  # not registered, draining, a stopped instance...
        reported = _reported_health(self).get(key)
        if reported is None:
            return _health(
                self,
                target,
                "initial",
                "Elb.RegistrationInProgress",
                "Target registration is in progress",
            )
        return _health(self, target, *reported)

    return _chain(
        _replace(cls, "register", register),
        _replace(cls, "deregister", deregister),
        _replace(cls, "health_for", health_for),
        _private_endpoint("target-health", set_target_health),
    )


# --- ECS --------------------------------------------------------------------------


def _install_service_request_fields() -> Revert:
    cls = ecs_responses.EC2ContainerServiceResponse
    original = cls.create_service

    def create_service(self: Any) -> Any:
        result = original(self)
        service = self.ecs_backend._get_service(
            self._get_param("cluster", "default"), self._get_param("serviceName")
        )
        # Keep what the client asked for, as update_service already does, so
        # describe_services returns it (availabilityZoneRebalancing, capacity providers, ...).
        for name, value in self._get_params().items():
            attribute = camelcase_to_underscores(name)
            if value is not None and not hasattr(service, attribute):
                setattr(service, attribute, value)
        return result

    return _replace(cls, "create_service", create_service)


_PENDING_STATES = ("PROVISIONING", "PENDING", "ACTIVATING")


def _find_service(arn: str) -> Any:
    parts = arn.split(":")
    if len(parts) < 6:
        return None
    region, account = parts[3], parts[4]
    try:
        backend = ecs_models.ecs_backends[account][region]
    except KeyError:
        return None
    return next((s for s in backend.services.values() if s.arn == arn), None)


def _timestamp(value: Any) -> Any:
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
    return value


def _refresh_deployments(service: Any) -> None:
    """Deployments as ECS shows them: PRIMARY runs the current task definition, ACTIVE
    ones are older task definitions that still have tasks; counts from the real tasks."""
    tasks: list[dict[str, Any]] = getattr(service, "chatops_tasks", [])
    current = service.task_definition
    deployments = [d for d in service.deployments if d.get("taskDefinition") == current] or []
    if not deployments and service.deployments:
        template = dict(service.deployments[0])
        deployment_id = f"ecs-svc/{random.randint(0, 32**12)}"
        template.update(
            id=deployment_id, taskDefinition=current, createdAt=utcnow(), status="PRIMARY"
        )
        deployments = [template]
    primary = deployments[0] if deployments else None
    others = []
    for deployment in service.deployments:
        if deployment is primary or deployment.get("taskDefinition") == current:
            continue
        if any(t["taskDefinitionArn"] == deployment.get("taskDefinition") for t in tasks):
            others.append(deployment)
    for deployment in [d for d in (primary, *others) if d is not None]:
        mine = [t for t in tasks if t["taskDefinitionArn"] == deployment.get("taskDefinition")]
        running = sum(1 for t in mine if t["lastStatus"] == "RUNNING")
        pending = sum(1 for t in mine if t["lastStatus"] in _PENDING_STATES)
        is_primary = deployment is primary
        deployment.update(
            status="PRIMARY" if is_primary else "ACTIVE",
            runningCount=running,
            pendingCount=pending,
            desiredCount=service.desired_count if is_primary else 0,
            updatedAt=utcnow(),
        )
        reported = getattr(service, "chatops_deployments", {}).get(
            str(deployment.get("taskDefinition")), {}
        )
        deployment["failedTasks"] = int(reported.get("failedTasks") or 0)
        done = is_primary and running >= service.desired_count and not others
        deployment["rolloutState"] = "COMPLETED" if done or not is_primary else "IN_PROGRESS"
        deployment["rolloutStateReason"] = f"ECS deployment {deployment['id']} " + (
            "completed." if deployment["rolloutState"] == "COMPLETED" else "in progress."
        )
        if is_primary and reported.get("failure"):
            deployment["rolloutState"] = "FAILED"
            deployment["rolloutStateReason"] = str(reported["failure"])
    service.deployments = [d for d in (primary, *others) if d is not None]


def report_tasks(body: dict[str, Any]) -> dict[str, Any]:
    """The data plane's view of each service's tasks: `{"Services": [{ServiceArn, Tasks:
    [task as DescribeTasks describes it]}]}`. Counts and deployments follow from it."""
    updated, unknown = 0, []
    for report in body.get("Services", []):
        service = _find_service(str(report.get("ServiceArn", "")))
        if service is None:
            unknown.append(report.get("ServiceArn"))
            continue
        tasks = []
        for task in report.get("Tasks", []):
            task = dict(task)
            for field in ("createdAt", "startedAt", "stoppingAt", "pullStartedAt"):
                if field in task:
                    task[field] = _timestamp(task[field])
            tasks.append(task)
        service.chatops_tasks = tasks
        service.chatops_deployments = {
            str(d.get("taskDefinition")): d for d in report.get("Deployments", [])
        }
        service.running_count = sum(1 for t in tasks if t["lastStatus"] == "RUNNING")
        service.pending_count = sum(1 for t in tasks if t["lastStatus"] in _PENDING_STATES)
        _refresh_deployments(service)
        updated += 1
    return {"updated": updated, "unknown": unknown}


def _install_task_state() -> Revert:
    backend_cls = ecs_models.EC2ContainerServiceBackend
    responses_cls = ecs_responses.EC2ContainerServiceResponse
    original_update = backend_cls.update_service
    original_list = responses_cls.list_tasks
    original_describe = responses_cls.describe_tasks

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        cluster = service_properties.get("cluster", "default")
        name = str(service_properties.get("service", "")).split("/")[-1]
        before = self._get_service(cluster, name)
        running, pending = before.running_count, before.pending_count
        service = original_update(self, service_properties)
        # moto reports the new desired count as running at once; the tasks say otherwise.
        if hasattr(service, "chatops_tasks"):
            service.running_count, service.pending_count = running, pending
        else:
            service.running_count = 0
            service.pending_count = service.desired_count
        _refresh_deployments(service)
        return service

    def service_tasks(backend: Any, cluster: str) -> list[tuple[Any, dict[str, Any]]]:
        name = cluster.split("/")[-1]
        return [
            (service, task)
            for service in backend.services.values()
            if service.cluster_name == name
            for task in getattr(service, "chatops_tasks", [])
        ]

    def list_tasks(self: Any) -> Any:
        cluster = self._get_param("cluster", "default")
        service_name = self._get_param("serviceName")
        desired = self._get_param("desiredStatus") or "RUNNING"
        ours = [
            task["taskArn"]
            for service, task in service_tasks(self.ecs_backend, cluster)
            if (not service_name or service.name == service_name.split("/")[-1])
            and task.get("desiredStatus", "RUNNING") == desired
        ]
        if service_name:
            return ActionResult({"taskArns": ours})
        listed: Any = original_list(self).result
        return ActionResult({"taskArns": [*listed["taskArns"], *ours]})

    def describe_tasks(self: Any) -> Any:
        cluster = self._get_param("cluster", "default")
        wanted = self._get_param("tasks", [])
        ours = [
            task
            for _, task in service_tasks(self.ecs_backend, cluster)
            if task["taskArn"] in wanted or task["taskArn"].split("/")[-1] in wanted
        ]
        if ours and not self.ecs_backend.tasks:
            return ActionResult({"tasks": ours, "failures": []})
        described: Any = original_describe(self).result  # refuses an empty list, as ECS does
        return ActionResult({**described, "tasks": [*described["tasks"], *ours]})

    return _chain(
        _replace(backend_cls, "update_service", update_service),
        _replace(responses_cls, "list_tasks", list_tasks),
        _replace(responses_cls, "describe_tasks", describe_tasks),
        _private_endpoint("ecs-tasks", report_tasks),
    )


def _task_ips(service: Any, count: int) -> list[str]:
    """Stable private IPs for a service's simulated tasks, spread over its subnets."""
    awsvpc = (service.network_configuration or {}).get("awsvpcConfiguration") or {}
    subnet_ids = awsvpc.get("subnets") or []
    if not subnet_ids or count <= 0:
        return []
    ec2 = ec2_backends[service._account_id][service.region_name]
    subnets = ec2.describe_subnets(subnet_ids=subnet_ids)
    offset = 10 + zlib.crc32(service.name.encode()) % 200
    ips = []
    for index in range(count):
        network = ipaddress.ip_network(subnets[index % len(subnets)].cidr_block)
        ips.append(str(network.network_address + offset + index // len(subnets)))
    return ips


def _sync_simulated_targets(service: Any) -> None:
    """Register exactly `running_count` healthy IP targets of the service in its groups."""
    elbv2 = elbv2_backends[service._account_id][service.region_name]
    running = service.running_count if service.status == "ACTIVE" else 0
    for balancer in service.load_balancers or []:
        group = elbv2.target_groups.get(balancer.get("targetGroupArn"))
        if group is None:
            continue
        port = int(balancer.get("containerPort") or group.port)
        wanted = [{"Id": ip, "Port": port} for ip in _task_ips(service, running)]
        wanted_keys = {_target_key(group, t) for t in wanted}
        stale = [dict(t) for key, t in group.targets.items() if key not in wanted_keys]
        if stale:
            group.deregister(stale)
            for target in stale:
                # Simulated tasks stop at once: nothing is left draining.
                _draining(group).pop(_target_key(group, target), None)
        missing = [t for t in wanted if _target_key(group, t) not in group.targets]
        if missing:
            group.register(missing)
        for target in wanted:
            _reported_health(group)[_target_key(group, target)] = ("healthy", None, None)


def _install_simulated_tasks() -> Revert:
    backend_cls = ecs_models.EC2ContainerServiceBackend
    original_create = backend_cls.create_service
    original_update = backend_cls.update_service
    original_delete = backend_cls.delete_service

    def mark_running(service: Any) -> None:
        service.running_count = service.desired_count
        service.pending_count = 0
        for deployment in service.deployments:
            deployment["runningCount"] = service.desired_count
            deployment["pendingCount"] = 0
            deployment["desiredCount"] = service.desired_count
            deployment["rolloutState"] = "COMPLETED"
            deployment["rolloutStateReason"] = f"ECS deployment {deployment['id']} completed."
        _sync_simulated_targets(service)

    def create_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        service = original_create(self, *args, **kwargs)
        mark_running(service)
        return service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        service = original_update(self, service_properties)
        mark_running(service)
        return service

    def delete_service(self: Any, cluster_name: str, service_name: str, force: bool) -> Any:
        service = original_delete(self, cluster_name, service_name, force)
        _sync_simulated_targets(service)
        return service

    return _chain(
        _replace(backend_cls, "create_service", create_service),
        _replace(backend_cls, "update_service", update_service),
        _replace(backend_cls, "delete_service", delete_service),
    )


# --- IAM policy evaluation (S3 bucket policies) -------------------------------------


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

    return _chain(
        _replace(cls, "is_action_permitted", is_action_permitted),
        # Conditions were just evaluated; the original check must not veto the result.
        _replace(cls, "_check_conditions", lambda self, incoming=None: True),
    )


# --- CloudWatch -------------------------------------------------------------------


class _Distribution(cloudwatch_models.MetricAggregatedDatum):
    """A PutMetricData `Values`/`Counts` datum kept whole: its sum, extremes and count
    serve the standard statistics, its values the percentiles."""

    def __init__(self, namespace: str, member: dict[str, Any]) -> None:
        values = [float(value) for value in member["Values"]]
        counts = [float(count) for count in member.get("Counts") or [1] * len(values)]
        super().__init__(
            namespace=namespace,
            name=member["MetricName"],
            min_stat=min(values),
            max_stat=max(values),
            sample_count=sum(counts),
            sum_stat=sum(v * c for v, c in zip(values, counts, strict=True)),
            dimensions=member.get("Dimensions") or [],
            timestamp=member.get("Timestamp"),
            unit=member.get("Unit"),
        )
        self.values = list(zip(values, counts, strict=True))


def percentile(weighted: list[tuple[float, float]], q: float) -> float | None:
    """Nearest-rank percentile of (value, count) pairs."""
    total = sum(count for _, count in weighted)
    if total <= 0:
        return None
    rank = max(1.0, math.ceil(q / 100 * total))
    seen = 0.0
    for value, count in sorted(weighted):
        seen += count
        if seen >= rank:
            return value
    return max(value for value, _ in weighted)


def _install_metric_distributions() -> Revert:
    backend_cls = cloudwatch_models.CloudWatchBackend
    response_cls = cloudwatch_responses.CloudWatchResponse
    original_put = backend_cls.put_metric_data
    original_statistics = response_cls.get_metric_statistics

    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        distributions = [member for member in metric_data if member.get("Values")]
        for index, member in enumerate(distributions):
            self._validate_parameters_put_metric_data(member, index + 1)
        self.metric_data.extend(_Distribution(namespace, member) for member in distributions)
        plain = [member for member in metric_data if not member.get("Values")]
        if plain:
            original_put(self, namespace, plain)

    def extended(self: Any) -> dict[str, float] | None:
        wanted = getattr(self, "_extended", None)
        if not wanted:
            return None
        weighted = [(float(m.value), 1.0) for m in self.metric_single_values_list]
        for datum in self.metric_aggregated_list:
            weighted += getattr(datum, "values", [(datum.sum / datum.sample_count, 1.0)])
        found = {}
        for name in wanted:
            value = percentile(weighted, float(name[1:]))
            if value is not None:
                found[name] = value
        return found or None

    def get_metric_statistics(self: Any) -> Any:
        result: Any = original_statistics(self)
        wanted = [
            name
            for name in self._get_param("ExtendedStatistics") or []
            if re.fullmatch(r"p\d{1,2}(\.\d+)?", name)
        ]
        for datapoint in result.result["Datapoints"]:
            datapoint._extended = wanted
        return result

    return _chain(
        _replace(backend_cls, "put_metric_data", put_metric_data),
        _replace(cloudwatch_models.Statistics, "ExtendedStatistics", property(extended)),
        _replace(response_cls, "get_metric_statistics", get_metric_statistics),
    )


# --- DynamoDB ---------------------------------------------------------------------


def _install_partition_queries() -> Revert:
    """A Query on a table's own key reads that partition, as DynamoDB does.

    moto's Table.query sorts every item of the table and keeps the partition's (O(n log
    n) in the table for every Query); here its filtering, paging and projection run on
    the partition alone. Index queries are left to moto as they are.
    """
    original = dynamodb_table.Table.query

    def query(
        self: Any,
        hash_key: Any,
        range_comparison: Any,
        range_objs: Any,
        limit: Any,
        exclusive_start_key: Any,
        scan_index_forward: Any,
        projection_expressions: Any,
        index_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        arguments = (range_comparison, range_objs, limit, exclusive_start_key)
        rest = (scan_index_forward, projection_expressions, index_name, *args)
        if index_name or not self.range_key_attr:
            return original(self, hash_key, *arguments, *rest, **kwargs)
        partition = list(self.items.get(hash_key, {}).values())
        # moto's query reads `all_items()`: for this call (requests run one at a time),
        # the partition stands in for the table.
        self.all_items = lambda: partition
        try:
            return original(self, hash_key, *arguments, *rest, **kwargs)
        finally:
            del self.all_items

    return _replace(dynamodb_table.Table, "query", query)


# The item calls the chat makes for every message, join and history page. Their results
# are already DynamoDB's wire JSON (items of {"S": ...}, counts, keys); DeleteItem is not
# among them, as moto adds a legacy field to it that the serializer drops.
_ITEM_ACTIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "Query"})


def _install_item_responses() -> Revert:
    """Item calls answered with their result as JSON, without moto's shape walk."""
    original = dynamodb_responses.DynamoHandler.serialized

    def serialized(self: Any, action_result: ActionResult) -> Any:
        result = action_result.result
        if type(result) is not dict or self._get_action() not in _ITEM_ACTIONS:
            return original(self, action_result)
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, json.dumps(result)

    return _replace(dynamodb_responses.DynamoHandler, "serialized", serialized)


# --- S3 ---------------------------------------------------------------------------


def _install_eventbridge_notifications() -> Revert:
    cls = s3_responses.S3Response

    def get_bucket_notification(self: Any) -> Any:
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if not configuration:
            return self.serialized(EmptyResult())

        def entries(items: Any, arn_key: str) -> list[dict[str, Any]]:
            found = []
            for item in items:
                entry: dict[str, Any] = {"Id": item.id, arn_key: item.arn, "Events": item.events}
                if item.filters:
                    entry["Filter"] = {"Key": {"FilterRules": item.filters["S3Key"]["FilterRule"]}}
                found.append(entry)
            return found

        result: dict[str, Any] = {
            "TopicConfigurations": entries(configuration.topic, "TopicArn"),
            "QueueConfigurations": entries(configuration.queue, "QueueArn"),
            "LambdaFunctionConfigurations": entries(
                configuration.cloud_function, "LambdaFunctionArn"
            ),
        }
        if configuration.event_bridge is not None:
            result["EventBridgeConfiguration"] = {}
        self.data["Action"] = "GetBucketNotificationConfiguration"
        return self.serialized(ActionResult(result))

    return _replace(cls, "get_bucket_notification", get_bucket_notification)


def _install_suspended_version_delete() -> Revert:
    backend_cls = s3_models.S3Backend
    original = backend_cls.delete_object

    def delete_object(
        self: Any,
        bucket_name: str,
        key_name: str,
        version_id: str | None = None,
        bypass: bool = False,
    ) -> Any:
        bucket = self.get_bucket(bucket_name)
        if version_id is None or bucket.versioning_status != "Suspended":
            return original(self, bucket_name, key_name, version_id, bypass)
        # A version delete removes that one version whatever the versioning state.
        bucket.versioning_status = "Enabled"
        try:
            return original(self, bucket_name, key_name, version_id, bypass)
        finally:
            bucket.versioning_status = "Suspended"

    return _chain(
        _replace(backend_cls, "delete_object", delete_object),
        _replace(s3_models.FakeDeleteMarker, "dispose", lambda self, garbage=False: None),
    )


# --- Budgets ----------------------------------------------------------------------


def _budget_tags(backend: Any) -> dict[str, list[dict[str, str]]]:
    """Tags by budget ARN, kept on the backend (moto keeps none)."""
    tags: dict[str, list[dict[str, str]]] = backend.__dict__.setdefault("_chatops_tags", {})
    return tags


def _install_budget_operations() -> Revert:
    cls = budgets_responses.BudgetsResponse
    original_create = cls.create_budget
    original_delete = cls.delete_budget

    def budget(self: Any) -> Any:
        account, name = self._get_param("AccountId"), self._get_param("BudgetName")
        found = self.backend.budgets[account].get(name)
        if found is None:
            raise budgets_exceptions.NotFoundException(f"budget {name} does not exist")
        return found

    def arn(self: Any, name: str) -> str:
        return f"arn:aws:budgets::{self._get_param('AccountId')}:budget/{name}"

    def create_budget(self: Any) -> Any:
        result = original_create(self)
        name = self._get_param("Budget")["BudgetName"]
        _budget_tags(self.backend)[arn(self, name)] = list(self._get_param("ResourceTags") or [])
        return result

    def delete_budget(self: Any) -> Any:
        result = original_delete(self)
        _budget_tags(self.backend).pop(arn(self, self._get_param("BudgetName")), None)
        return result

    def update_budget(self: Any) -> str:
        new = self._get_param("NewBudget")
        current = self.backend.budgets[self._get_param("AccountId")].get(new["BudgetName"])
        if current is None:
            missing = f"budget {new['BudgetName']} does not exist"
            raise budgets_exceptions.NotFoundException(missing)
        current.budget.update(new)
        return json.dumps({})

    def describe_subscribers_for_notification(self: Any) -> str:
        wanted = self._get_param("Notification")
        for notification in budget(self).notifications:
            if notification.details == wanted:
                return json.dumps({"Subscribers": notification.subscribers})
        raise budgets_exceptions.NotFoundException("the notification does not exist")

    def list_tags_for_resource(self: Any) -> str:
        tags = _budget_tags(self.backend).get(self._get_param("ResourceARN"), [])
        return json.dumps({"ResourceTags": tags})

    def tag_resource(self: Any) -> str:
        tags = _budget_tags(self.backend).setdefault(self._get_param("ResourceARN"), [])
        for tag in self._get_param("ResourceTags") or []:
            tags[:] = [t for t in tags if t["Key"] != tag["Key"]] + [tag]
        return json.dumps({})

    def untag_resource(self: Any) -> str:
        keys = set(self._get_param("ResourceTagKeys") or [])
        tags = _budget_tags(self.backend).setdefault(self._get_param("ResourceARN"), [])
        tags[:] = [t for t in tags if t["Key"] not in keys]
        return json.dumps({})

    return _chain(
        _replace(cls, "create_budget", create_budget),
        _replace(cls, "delete_budget", delete_budget),
        _replace(cls, "update_budget", update_budget),
        _replace(
            cls, "describe_subscribers_for_notification", describe_subscribers_for_notification
        ),
        _replace(cls, "list_tags_for_resource", list_tags_for_resource),
        _replace(cls, "tag_resource", tag_resource),
        _replace(cls, "untag_resource", untag_resource),
    )


PATCHES: tuple[Patch, ...] = (
    Patch(
        "elasticache-member-clusters",
        "CreateReplicationGroup ignores NumCacheClusters and registers no member cache "
        "clusters: apply fails with CacheClusterNotFound for <id>-001.",
        _install_replication_group_members,
    ),
    Patch(
        "elasticache-delete-replication-group",
        "DeleteReplicationGroup leaves the group 'deleting' forever: destroy times out.",
        _install_replication_group_deletion,
    ),
    Patch(
        "elasticache-delete-cache-subnet-group",
        "DeleteCacheSubnetGroup is not implemented (HTTP 500; the provider retries for minutes).",
        _install_delete_cache_subnet_group,
    ),
    Patch(
        "elasticache-cluster-security-groups",
        "Cache clusters describe no SecurityGroups: drift on security_group_ids.",
        _install_cache_cluster_security_groups,
    ),
    Patch(
        "elasticache-reader-endpoint",
        "Replication groups describe no ReaderEndpoint: the reader address is unknown after "
        "apply, so everything using it (the task definitions) is replaced on every plan.",
        _install_reader_endpoint,
    ),
    Patch(
        "ec2-referenced-rule-description",
        "Security group rules that reference another group lose their Description: every "
        "plan re-adds it.",
        _install_referenced_rule_description,
    ),
    Patch(
        "cloudfront-cache-policy-behaviours",
        "Cache behaviours that use a cache policy are described with legacy ForwardedValues: "
        "every plan removes them.",
        _install_cache_policy_behaviours,
    ),
    Patch(
        "cloudfront-origin-access-control",
        "Origins lose OriginAccessControlId: every plan re-attaches the origin access control.",
        _install_origin_access_control,
    ),
    Patch(
        "cloudfront-response-headers-policies",
        "Response headers policies are not implemented (the API answers 404): a distribution "
        "with its own security headers cannot be deployed.",
        _install_response_headers_policies,
    ),
    Patch(
        "cloudfront-default-certificate",
        "The default certificate is described with SSLSupportMethod 'sni-only' and empty "
        "certificate fields: every plan shows a change.",
        _install_default_certificate,
    ),
    Patch(
        "ecs-service-request-fields",
        "CreateService drops availabilityZoneRebalancing (and other request fields): the "
        "first plan after apply shows a change.",
        _install_service_request_fields,
    ),
    Patch(
        "iam-policy-conditions",
        "Bucket policy conditions are not evaluated (Bool is ignored) and a statement whose "
        "condition fails counts as a deny: the buckets' DenyInsecureTransport statement "
        "refuses every object write and delete, so destroy cannot empty them.",
        _install_policy_conditions,
    ),
    Patch(
        "s3-eventbridge-notifications",
        "GetBucketNotificationConfiguration leaves out EventBridgeConfiguration: every plan "
        "turns the buckets' EventBridge notifications back on.",
        _install_eventbridge_notifications,
    ),
    Patch(
        "s3-suspended-version-delete",
        "Deleting an object version in a versioning-suspended bucket with a delete marker "
        "fails with HTTP 500 ('FakeDeleteMarker' object has no attribute 'dispose').",
        _install_suspended_version_delete,
    ),
    Patch(
        "elbv2-target-ports",
        "Targets are keyed by Id alone: registering 127.0.0.1 on a second port replaces the "
        "first, so local tasks (one address, many ports) cannot share a target group.",
        _install_target_ports,
    ),
    Patch(
        "elbv2-deregistration-delay",
        "DeregisterTargets removes a target at once: it never shows 'draining' for the "
        "group's deregistration delay.",
        _install_deregistration_delay,
    ),
    Patch(
        "elbv2-target-health",
        "Every registered target is 'healthy' whatever it serves: DescribeTargetHealth "
        "cannot tell a dead task from a live one.",
        _install_target_health,
    ),
    Patch(
        "ecs-task-state",
        "Services report runningCount = desiredCount the moment it changes, and ListTasks / "
        "DescribeTasks know nothing of a service's tasks.",
        _install_task_state,
    ),
    Patch(
        "ecs-simulated-tasks",
        "In-process moto (no data plane): services run no tasks and register no targets. "
        "Services report their desired count running behind as many healthy IP targets.",
        _install_simulated_tasks,
        emulator=False,
    ),
    Patch(
        "budgets-subscribers-and-tags",
        "DescribeSubscribersForNotification, UpdateBudget and the tagging calls are not "
        "implemented (HTTP 500, the provider retries for minutes): a budget that e-mails "
        "(alarm_email set) cannot be applied. Implemented from the budget's notifications; "
        "tags are kept per budget ARN.",
        _install_budget_operations,
    ),
    Patch(
        "cloudwatch-metric-distributions",
        "GetMetricStatistics ignores ExtendedStatistics, so a p95 alarm (the stack's "
        "response-time alarms) has nothing to evaluate; and PutMetricData expands "
        "Values/Counts into one stored datum per count, so a load balancer's latencies "
        "grow the store by a datum per request. Values/Counts are kept as one datum, and "
        "pNN percentiles are computed from them.",
        _install_metric_distributions,
    ),
    Patch(
        "dynamodb-partition-queries",
        "Query sorts the whole table and filters it for the partition: a room's history "
        "or replay costs O(n log n) in every message of every room, and with the chat's "
        "traffic the emulator falls behind (calls time out). A Query on the table's key "
        "reads its partition; index queries are unchanged.",
        _install_partition_queries,
    ),
    Patch(
        "dynamodb-item-responses",
        "Every response goes through moto's generic serializer, which walks each item "
        "attribute by attribute against the API's shapes: most of the emulator's time "
        "under the chat's traffic. GetItem, PutItem, UpdateItem and Query answer with "
        "their result as JSON (the same document).",
        _install_item_responses,
    ),
)

_installed: dict[str, Revert] = {}


def apply_all() -> None:
    """Install every patch the emulator process needs, if not installed yet."""
    for patch in PATCHES:
        if patch.emulator and patch.name not in _installed:
            _installed[patch.name] = patch.install()


def revert_all() -> None:
    for name in reversed(list(_installed)):
        _installed.pop(name)()


@contextmanager
def patched(*, without: tuple[str, ...] = ()) -> Iterator[None]:
    """Install every patch except those named in `without` for the duration of the block."""
    unknown = set(without) - {patch.name for patch in PATCHES}
    if unknown:
        raise ValueError(f"unknown patches: {sorted(unknown)}")
    installed_before = dict(_installed)
    revert_all()
    try:
        for patch in PATCHES:
            if patch.name not in without:
                _installed[patch.name] = patch.install()
        yield
    finally:
        revert_all()
        for name in installed_before:
            _installed[name] = next(p for p in PATCHES if p.name == name).install()

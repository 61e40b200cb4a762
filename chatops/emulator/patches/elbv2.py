"""Elastic Load Balancing (v2): where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

import time
from typing import Any

from moto.elbv2 import exceptions as elbv2_exceptions
from moto.elbv2 import models as elbv2_models
from moto.elbv2.models import elbv2_backends

from chatops.emulator.patches.registry import Patch, Revert, chain, private_endpoint, replace

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

    return chain(
        replace(cls, "register", register),
        replace(cls, "deregister", deregister),
        replace(cls, "deregister_terminated_instances", deregister_terminated_instances),
        replace(cls, "health_for", health_for),
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

    return chain(
        replace(cls, "register", register),
        replace(cls, "deregister", deregister),
        replace(cls, "health_for", health_for),
        replace(backend_cls, "describe_target_health", describe_target_health),
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

    return chain(
        replace(cls, "register", register),
        replace(cls, "deregister", deregister),
        replace(cls, "health_for", health_for),
        private_endpoint("target-health", set_target_health),
    )


# --- name collisions, as AWS refuses them ----------------------------------------------
# CreateTargetGroup is idempotent on AWS: the same request again returns the group that
# exists; only different settings under a taken name are refused. A second listener on
# a taken port is refused (the same listener again would succeed on AWS; here it fails
# too: not reproduced). The codes and messages are AWS's. A replacement under
# create_before_destroy with a fixed name is such a request
# (terraform-aws-modules/terraform-aws-alb #251, #396).


class DuplicateTargetGroupName(elbv2_exceptions.ELBClientError):
    def __init__(self, name: str) -> None:
        super().__init__(
            "DuplicateTargetGroupName",
            f"A target group with the same name '{name}' exists, but with different settings",
        )


class DuplicateListener(elbv2_exceptions.ELBClientError):
    def __init__(self, load_balancer_arn: str) -> None:
        super().__init__(
            "DuplicateListener",
            f"A listener already exists on this port for this load balancer '{load_balancer_arn}'",
        )


def _same_target_group(group: Any, kwargs: dict[str, Any]) -> bool:
    """The settings a target group is created with and cannot change."""
    wanted = {
        "protocol": kwargs.get("protocol"),
        "port": kwargs.get("port"),
        "vpc_id": kwargs.get("vpc_id"),
        "target_type": kwargs.get("target_type") or "instance",
    }
    have = {
        "protocol": group.protocol,
        "port": group.port,
        "vpc_id": group.vpc_id,
        "target_type": group.target_type,
    }
    return all(str(wanted[k]) == str(have[k]) for k in wanted if wanted[k] is not None)


def _install_duplicate_target_group_name() -> Revert:
    cls = elbv2_models.ELBv2Backend
    original = cls.create_target_group

    def create_target_group(self: Any, name: str, **kwargs: Any) -> Any:
        for group in self.target_groups.values():
            if group.name == name:
                if _same_target_group(group, kwargs):
                    return group
                raise DuplicateTargetGroupName(name)
        return original(self, name, **kwargs)

    return replace(cls, "create_target_group", create_target_group)


def _install_duplicate_listener() -> Revert:
    cls = elbv2_models.ELBv2Backend
    original = cls.create_listener

    def create_listener(
        self: Any, load_balancer_arn: str, protocol: str, port: str, *args: Any, **kwargs: Any
    ) -> Any:
        balancer = self.load_balancers.get(load_balancer_arn)
        if balancer is not None and any(
            str(listener.port) == str(port) for listener in balancer.listeners.values()
        ):
            raise DuplicateListener(load_balancer_arn)
        return original(self, load_balancer_arn, protocol, port, *args, **kwargs)

    return replace(cls, "create_listener", create_listener)


PATCHES: tuple[Patch, ...] = (
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
        "elbv2-duplicate-target-group-name",
        "CreateTargetGroup with a taken name always fails, with another message than AWS's: "
        "AWS returns the existing group for the same settings and refuses only different "
        "ones (DuplicateTargetGroupName, naming the group).",
        _install_duplicate_target_group_name,
    ),
    Patch(
        "elbv2-duplicate-listener",
        "CreateListener on a port the load balancer already listens on succeeds (moto keys "
        "listeners by ARN): two listeners share a port, where AWS says DuplicateListener.",
        _install_duplicate_listener,
    ),
)


# --- Rule: an ALB's subnets have room for its nodes ------------------------------------


class InvalidSubnet(elbv2_exceptions.ELBClientError):
    def __init__(self, subnet_id: str) -> None:
        super().__init__(
            "InvalidSubnet",
            f"Not enough IP space available in {subnet_id}. ELB requires at least 8 free IP "
            "addresses in each subnet.",
        )


def _install_alb_subnet_size() -> Revert:
    backend_cls = elbv2_models.ELBv2Backend
    original = backend_cls.create_load_balancer

    def create_load_balancer(self: Any, **kwargs: Any) -> Any:
        subnet_ids = [*(kwargs.get("subnet_ids") or [])]
        subnet_ids += [m["SubnetId"] for m in kwargs.get("subnet_mappings") or []]
        if (kwargs.get("loadbalancer_type") or "application") == "application":
            subnets = self.ec2_backend.subnets.values()
            known = {sid: subnet for zone in subnets for sid, subnet in zone.items()}
            for subnet_id in subnet_ids:
                subnet = known.get(subnet_id)  # an unknown one is moto's SubnetNotFound
                if subnet is not None and (
                    subnet.cidr.prefixlen > 27 or subnet.available_ip_address_count < 8
                ):
                    raise InvalidSubnet(subnet_id)
        return original(self, **kwargs)

    return replace(backend_cls, "create_load_balancer", create_load_balancer)


PATCHES = (
    *PATCHES,
    Patch(
        "elbv2-alb-subnet-size",
        "CreateLoadBalancer (application) accepts any subnet; ELB needs at least a /27 with "
        "8 free addresses in each and answers InvalidSubnet 'Not enough IP space available'.",
        _install_alb_subnet_size,
    ),
)

"""ECS: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

import datetime
import inspect
import ipaddress
import random
import zlib
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores, utcnow
from moto.ec2.models import ec2_backends
from moto.ecs import exceptions as ecs_exceptions
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from moto.elbv2.models import elbv2_backends

from chatops.emulator.patches.elbv2 import _draining, _reported_health, _target_key
from chatops.emulator.patches.registry import Patch, Revert, chain, private_endpoint, replace


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

    return replace(cls, "create_service", create_service)


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

    return chain(
        replace(backend_cls, "update_service", update_service),
        replace(responses_cls, "list_tasks", list_tasks),
        replace(responses_cls, "describe_tasks", describe_tasks),
        private_endpoint("ecs-tasks", report_tasks),
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

    return chain(
        replace(backend_cls, "create_service", create_service),
        replace(backend_cls, "update_service", update_service),
        replace(backend_cls, "delete_service", delete_service),
    )


PATCHES: tuple[Patch, ...] = (
    Patch(
        "ecs-service-request-fields",
        "CreateService drops availabilityZoneRebalancing (and other request fields): the "
        "first plan after apply shows a change.",
        _install_service_request_fields,
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
)


# --- Rules: what ECS refuses and moto accepts -------------------------------------------

# Fargate's task sizes (Linux): CPU units -> the memory (MiB) each accepts.
FARGATE_SIZES: dict[int, frozenset[int]] = {
    256: frozenset({512, 1024, 2048}),
    512: frozenset(range(1024, 4096 + 1, 1024)),
    1024: frozenset(range(2048, 8192 + 1, 1024)),
    2048: frozenset(range(4096, 16384 + 1, 1024)),
    4096: frozenset(range(8192, 30720 + 1, 1024)),
    8192: frozenset(range(16384, 61440 + 1, 4096)),
    16384: frozenset(range(32768, 122880 + 1, 8192)),
}


def _units(value: str, unit: str) -> int | None:
    """ "1024", "1 vCPU" or "2 GB" (the forms ECS accepts) in CPU units or MiB."""
    text = value.strip()
    number, _, suffix = text.partition(" ")
    try:
        amount = float(number)
    except ValueError:
        return None
    return int(amount * 1024) if suffix.strip().lower() == unit else int(amount)


def fargate_size_fits(cpu: str, memory: str) -> bool:
    cpu_units, mib = _units(cpu, "vcpu"), _units(memory, "gb")
    return mib in FARGATE_SIZES.get(cpu_units or 0, frozenset())


def _install_fargate_task_sizes() -> Revert:
    backend_cls = ecs_models.EC2ContainerServiceBackend
    original = backend_cls.register_task_definition
    signature = inspect.signature(original)

    def register_task_definition(self: Any, *args: Any, **kwargs: Any) -> Any:
        request = signature.bind(self, *args, **kwargs).arguments
        cpu, memory = request.get("cpu"), request.get("memory")
        if "FARGATE" in (request.get("requires_compatibilities") or []) and cpu and memory:
            if not fargate_size_fits(str(cpu), str(memory)):
                raise ecs_exceptions.EcsClientException(
                    f"No Fargate configuration exists for given values: {cpu} CPU, {memory} "
                    "memory. See the Amazon ECS documentation for the valid values."
                )
        return original(self, *args, **kwargs)

    return replace(backend_cls, "register_task_definition", register_task_definition)


def _strategy(entries: list[dict[str, Any]] | None) -> set[tuple[str, int, int]]:
    return {
        (str(e["capacityProvider"]), int(e.get("weight") or 0), int(e.get("base") or 0))
        for e in entries or []
    }


def _install_capacity_provider_updates() -> Revert:
    backend_cls = ecs_models.EC2ContainerServiceBackend
    original = backend_cls.update_service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        wanted = service_properties.get("capacity_provider_strategy")
        if wanted is not None and not service_properties.get("force_new_deployment"):
            name = str(service_properties.get("service", "")).split("/")[-1]
            service = self._get_service(service_properties.get("cluster", "default"), name)
            if _strategy(wanted) != _strategy(service.capacity_provider_strategy):
                raise ecs_exceptions.InvalidParameterException(
                    "When switching from launch type to capacity provider strategy on an "
                    "existing service, or making a change to a capacity provider strategy on "
                    "a service that is already using one, you must force a new deployment."
                )
        return original(self, service_properties)

    return replace(backend_cls, "update_service", update_service)


PATCHES = (
    *PATCHES,
    Patch(
        "ecs-fargate-task-sizes",
        "RegisterTaskDefinition accepts any cpu/memory for FARGATE; ECS accepts only its task "
        "sizes (256 CPU: 512-2048 MiB, ...) and answers ClientException 'No Fargate "
        "configuration exists for given values'.",
        _install_fargate_task_sizes,
    ),
    Patch(
        "ecs-capacity-provider-updates",
        "UpdateService changes a service's capacity provider strategy in place; ECS refuses "
        "it without forceNewDeployment (InvalidParameterException '... you must force a new "
        "deployment.').",
        _install_capacity_provider_updates,
    ),
)

"""ECS's local counterpart: each service's tasks as real chat server processes.

Reproduces, for every service in the emulator:

- as many tasks as the desired count, each ``python -m chatapp`` with the container
  definition's environment and its secrets (SSM parameters, Secrets Manager secrets,
  read with a session of the execution role: a role that may not read them fails the
  task with ECS's ResourceInitializationError), with only endpoints rewritten (Redis,
  port, bind address, the AWS endpoint, the task metadata endpoint);
- the task role: ECS assumes it as ``ecs-tasks.amazonaws.com`` for the task (its trust
  policy must allow that, the ``sts-role-trust`` rule) and the task gets the session
  from the container credentials endpoint (``$AWS_CONTAINER_CREDENTIALS_FULL_URI`` with
  ``$AWS_CONTAINER_AUTHORIZATION_TOKEN``), never the emulator's own keys, so the
  ``iam-role-sessions`` rule holds it to the role's policies;
- the source a task runs is resolved from its image: ``localhost/chatapp:<snapshot>``
  runs the immutable snapshot ``<local dir>/images/<snapshot>/``, any other image the
  checkout's ``app/`` (live code);
- a task is RUNNING once its port accepts connections; ECS then registers it in the
  service's target groups as (127.0.0.1, its port) and the health checks begin;
- desired count changes are followed at the next reconcile (well within ~2 s); a task
  that dies is replaced; a task whose targets fail their health checks after the
  service's grace period is stopped and replaced;
- a new task definition rolls out per the deployment configuration (maximumPercent,
  minimumHealthyPercent): new tasks start, old ones are stopped only while enough
  healthy ones remain;
- a task scaled in or replaced stops in ECS's order: its targets are deregistered
  first, SIGTERM follows after the target groups' deregistration delay, SIGKILL after
  the container's ``stopTimeout`` (30 s when unset);
- the task metadata endpoint v4 (``$ECS_CONTAINER_METADATA_URI_V4`` and ``/task``),
  so a task finds its own target (127.0.0.1, its port) as on AWS;
- the deployment circuit breaker: a deployment whose tasks fail to start, exit, or fail
  their health checks as often as half the desired count (at least 3, at most 200) is
  FAILED, and with rollback the service goes back to the last task definition that
  completed (an UpdateService, as ECS makes it); without, it starts no more tasks;
- runningCount, pendingCount, deployments (with failedTasks and rolloutState), ListTasks
  and DescribeTasks in the emulator come from these tasks (the `ecs-task-state` patch).

Leaves out: containers other than the essential ``app`` one (sidecars such as the X-Ray
daemon are not run), CPU and memory limits, the read-only root filesystem and the
container user, capacity providers and placement, exec. When a
service is deleted (a destroy) its tasks get SIGTERM at once and SIGKILL 5 s later:
their target groups go with them, so there is nothing to drain through.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets as random_tokens
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatops.emulator.dataplane.state import MARKER_VARIABLE, environ_base
from chatops.processes import alive

log = logging.getLogger(__name__)

SNAPSHOT_REPOSITORY = "localhost/chatapp"
DEFAULT_STOP_TIMEOUT = 30.0
TEARDOWN_KILL_AFTER = 5.0
START_TIMEOUT = 60.0
APP_CONTAINER = "app"

# Task states, as ECS names them.
PROVISIONING = "PROVISIONING"
PENDING = "PENDING"
RUNNING = "RUNNING"
DEACTIVATING = "DEACTIVATING"
STOPPING = "STOPPING"
STOPPED = "STOPPED"


# --- what a task runs -------------------------------------------------------------------


def source_dir(image: str, local_dir: Path, app_dir: Path | None) -> Path | None:
    """The directory whose `chatapp` package a task of `image` runs.

    `localhost/chatapp:<snapshot>` runs `<local dir>/images/<snapshot>/`; any other image
    runs `app_dir` (the checkout's app/), or the installed package when that is None.
    """
    repository, _, tag = image.rpartition(":")
    if repository == SNAPSHOT_REPOSITORY and tag and "/" not in tag:
        return local_dir / "images" / tag
    return app_dir


def parameter_name(value_from: str) -> str:
    """The SSM parameter name in a secret's valueFrom (an ARN or a name)."""
    if value_from.startswith("arn:") and ":parameter" in value_from:
        return value_from.split(":parameter", 1)[1]
    return value_from


def task_environment(
    container: Mapping[str, Any],
    secrets: Mapping[str, str],
    *,
    port: int,
    redis_port: int | None,
    aws_endpoint: str,
    metadata_uri: str,
    marker: str,
    source: Path | None,
    credentials_uri: str | None = None,
    credentials_token: str = "",
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a local task: the container's own plus its secrets, with only
    the endpoints rewritten to local ones.

    The task's AWS credentials are its task role's, from the credentials endpoint
    (`credentials_uri`), as on Fargate; a task without a task role has none."""
    env = dict(base if base is not None else environ_base())
    env.update({item["name"]: str(item["value"]) for item in container.get("environment", [])})
    env.update(secrets)
    if "REDIS_HOST" in env or redis_port is not None:
        env["REDIS_HOST"] = "127.0.0.1"
        if "REDIS_READER_HOST" in env:
            env["REDIS_READER_HOST"] = "127.0.0.1"
        if redis_port is not None:
            env["REDIS_PORT"] = str(redis_port)
        env["REDIS_TLS"] = "false"
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        AWS_ENDPOINT_URL=aws_endpoint,
        AWS_EC2_METADATA_DISABLED="true",
        ECS_CONTAINER_METADATA_URI_V4=metadata_uri,
        PYTHONUNBUFFERED="1",
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)  # only the task role's credentials, as on Fargate
    if credentials_uri:
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = credentials_uri
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = credentials_token
    env.setdefault("AWS_REGION", env.get("AWS_DEFAULT_REGION", "ap-northeast-2"))
    if source is not None:
        env["PYTHONPATH"] = str(source)
    env[MARKER_VARIABLE] = marker
    return env


# --- what the control plane says ------------------------------------------------------


@dataclass(frozen=True)
class LoadBalancerLink:
    target_group_arn: str
    container_name: str
    container_port: int


@dataclass(frozen=True)
class ServiceSpec:
    """One ECS service as DescribeServices and DescribeTaskDefinition give it."""

    arn: str
    name: str
    cluster_arn: str
    region: str
    status: str
    desired: int
    task_definition_arn: str
    max_percent: int
    min_percent: int
    grace_period: float
    load_balancers: tuple[LoadBalancerLink, ...]
    circuit_breaker: bool = False
    rollback: bool = False
    security_groups: tuple[str, ...] = ()  # awsvpc: what the tasks' interfaces have (vpc)
    subnets: tuple[str, ...] = ()

    @property
    def failure_threshold(self) -> int:
        """ECS's circuit breaker: half the desired count, at least 3, at most 200."""
        return min(200, max(3, math.ceil(self.desired / 2)))

    @classmethod
    def from_description(cls, service: Mapping[str, Any], region: str) -> ServiceSpec:
        deployment = service.get("deploymentConfiguration") or {}
        awsvpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
        return cls(
            arn=service["serviceArn"],
            name=service["serviceName"],
            cluster_arn=service["clusterArn"],
            region=region,
            status=service.get("status", "ACTIVE"),
            desired=int(service.get("desiredCount") or 0),
            task_definition_arn=service["taskDefinition"],
            max_percent=int(deployment.get("maximumPercent") or 200),
            min_percent=int(deployment.get("minimumHealthyPercent") or 100),
            grace_period=float(service.get("healthCheckGracePeriodSeconds") or 0),
            circuit_breaker=bool((deployment.get("deploymentCircuitBreaker") or {}).get("enable")),
            rollback=bool((deployment.get("deploymentCircuitBreaker") or {}).get("rollback")),
            security_groups=tuple(awsvpc.get("securityGroups") or ()),
            subnets=tuple(awsvpc.get("subnets") or ()),
            load_balancers=tuple(
                LoadBalancerLink(
                    lb["targetGroupArn"], lb.get("containerName", ""), int(lb["containerPort"])
                )
                for lb in service.get("loadBalancers") or []
                if lb.get("targetGroupArn")
            ),
        )


def app_container(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The container a local task runs: `app`, else the first essential one."""
    containers = list(definition.get("containerDefinitions") or [])
    for container in containers:
        if container.get("name") == APP_CONTAINER:
            return dict(container)
    essential = [c for c in containers if c.get("essential", True)]
    return dict((essential or containers or [{}])[0])


def colour_of(container: Mapping[str, Any]) -> str | None:
    for item in container.get("environment", []):
        if item.get("name") == "COLOR":
            return str(item.get("value"))
    return None


# --- the plan: what to start and stop ---------------------------------------------------


@dataclass(frozen=True)
class TaskView:
    """What the planner needs to know of a live task."""

    id: str
    definition: str
    started_at: float
    serving: bool  # RUNNING and every target healthy (or no load balancer)


@dataclass(frozen=True)
class Plan:
    start: int = 0
    stop: tuple[str, ...] = ()


def plan_service(spec: ServiceSpec, live: list[TaskView]) -> Plan:
    """Start and stop decisions for one service, per its deployment configuration.

    `live` are the tasks not already stopping. New tasks run the current task
    definition; old ones are stopped only while at least minimumHealthyPercent of the
    desired count keeps serving, and no more than maximumPercent run at once.
    """
    desired = spec.desired
    current = [t for t in live if t.definition == spec.task_definition_arn]
    old = [t for t in live if t.definition != spec.task_definition_arn]
    max_total = max(desired, math.floor(desired * spec.max_percent / 100))
    min_serving = math.ceil(desired * spec.min_percent / 100)
    start = max(0, min(desired - len(current), max_total - len(live)))
    stop: list[str] = []
    serving = sum(1 for t in live if t.serving)
    # Old tasks: the ones not serving go first, then the oldest, while enough serve.
    for task in sorted(old, key=lambda t: (t.serving, t.started_at)):
        if task.serving:
            if serving - 1 < min_serving:
                break
            serving -= 1
        stop.append(task.id)
    if not old and len(current) > desired:
        # Scale in: tasks that do not serve first, then the newest.
        extra = sorted(current, key=lambda t: (t.serving, -t.started_at))
        stop += [t.id for t in extra[: len(current) - desired]]
    if start == 0 and desired > len(current) and old and not stop:
        # No room to start (maximumPercent): one old task must make way first.
        stop.append(sorted(old, key=lambda t: (t.serving, t.started_at))[0].id)
    return Plan(start=start, stop=tuple(stop))


# --- local tasks ---------------------------------------------------------------------


@dataclass
class LocalTask:
    """One task process and where it is in its life."""

    id: str
    arn: str
    service_arn: str
    service_name: str
    cluster_arn: str
    region: str
    definition_arn: str
    image: str
    container_name: str
    colour: str | None
    port: int
    pid: int
    marker: str
    log_path: str
    stop_timeout: float
    targets: list[str]  # target group ARNs it is registered in
    state: str = PENDING
    desired_status: str = RUNNING
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    registered: bool = False
    stop_reason: str | None = None
    sigterm_at: float | None = None
    kill_at: float | None = None
    task_role_arn: str = ""
    credentials_token: str = ""  # what the task sends to the credentials endpoint

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, detail: Mapping[str, Any]) -> LocalTask:
        return cls(**dict(detail))

    def describe(self) -> dict[str, Any]:
        """The task as DescribeTasks describes it."""
        described: dict[str, Any] = {
            "taskArn": self.arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.definition_arn,
            "lastStatus": self.state,
            "desiredStatus": self.desired_status,
            "launchType": "FARGATE",
            "platformFamily": "Linux",
            "group": f"service:{self.service_name}",
            "availabilityZone": f"{self.region}a",
            "connectivity": "CONNECTED",
            "healthStatus": "UNKNOWN",
            "createdAt": self.created_at,
            "containers": [
                {
                    "taskArn": self.arn,
                    "name": self.container_name,
                    "image": self.image,
                    "lastStatus": self.state,
                    "networkInterfaces": [{"privateIpv4Address": "127.0.0.1"}],
                    "networkBindings": [
                        {"bindIP": "127.0.0.1", "containerPort": self.port, "hostPort": self.port}
                    ],
                }
            ],
        }
        if self.started_at:
            described["startedAt"] = self.started_at
        if self.stop_reason:
            described["stoppedReason"] = self.stop_reason
        return described

    def metadata(self, cluster: str, family: str, revision: str) -> dict[str, Any]:
        """Task metadata v4 (`GET $ECS_CONTAINER_METADATA_URI_V4/task`)."""
        return {
            "Cluster": cluster,
            "TaskARN": self.arn,
            "Family": family,
            "Revision": revision,
            "DesiredStatus": self.desired_status,
            "KnownStatus": self.state,
            "LaunchType": "FARGATE",
            "AvailabilityZone": f"{self.region}a",
            "Containers": [self.container_metadata()],
        }

    def container_metadata(self) -> dict[str, Any]:
        return {
            "Name": self.container_name,
            "Image": self.image,
            "DesiredStatus": self.desired_status,
            "KnownStatus": self.state,
            "Type": "NORMAL",
            "Networks": [
                {"NetworkMode": "awsvpc", "IPv4Addresses": ["127.0.0.1"]},
            ],
            "Ports": [{"ContainerPort": self.port, "Protocol": "tcp", "HostPort": self.port}],
        }


def new_task_id() -> str:
    return random_tokens.token_hex(16)


def task_arn(cluster_arn: str, task_id: str) -> str:
    prefix, _, cluster = cluster_arn.partition(":cluster/")
    return f"{prefix}:task/{cluster}/{task_id}"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def spawn(
    env: Mapping[str, str], log_path: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `python -m chatapp` detached (its own session), logging to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "chatapp"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )


class TaskTable:
    """The tasks of every service, with their process handles (None once adopted)."""

    def __init__(self) -> None:
        self.tasks: dict[str, LocalTask] = {}
        self.handles: dict[str, subprocess.Popen[bytes] | None] = {}

    def add(self, task: LocalTask, handle: subprocess.Popen[bytes] | None) -> None:
        self.tasks[task.id] = task
        self.handles[task.id] = handle

    def remove(self, task_id: str) -> LocalTask | None:
        self.handles.pop(task_id, None)
        return self.tasks.pop(task_id, None)

    def exited(self, task: LocalTask) -> bool:
        handle = self.handles.get(task.id)
        if handle is not None:
            return handle.poll() is not None
        return not alive(task.pid)

    def of_service(self, arn: str) -> list[LocalTask]:
        return [t for t in self.tasks.values() if t.service_arn == arn]

    def live(self, arn: str) -> list[LocalTask]:
        return [t for t in self.of_service(arn) if t.desired_status == RUNNING]


def metadata_response(
    path: str, tasks: Mapping[str, LocalTask], definitions: Mapping[str, Mapping[str, Any]]
) -> tuple[int, Any]:
    """Answer a task metadata request: `/v4/<task id>` or `/v4/<task id>/task`."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if len(parts) < 2 or parts[0] != "v4" or parts[1] not in tasks:
        return 404, {"error": "unknown task"}
    task = tasks[parts[1]]
    if len(parts) == 2:
        return 200, task.container_metadata()
    if parts[2:] == ["task"]:
        definition = definitions.get(task.definition_arn, {})
        cluster = task.cluster_arn.rsplit("/", 1)[-1]
        return 200, task.metadata(
            cluster, str(definition.get("family", "")), str(definition.get("revision", ""))
        )
    return 404, {"error": "unknown path"}


# --- reading the control plane ----------------------------------------------------------


@dataclass
class EcsView:
    """Services and the task definitions they use, as last read from the emulator."""

    services: dict[str, ServiceSpec] = field(default_factory=dict)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_services(control: Any, regions: list[str], known: Mapping[str, Any]) -> EcsView:
    """Every service of every cluster in `regions` (task definitions are immutable: the
    ones already in `known` are not read again)."""
    view = EcsView(definitions=dict(known))
    for region in regions:
        ecs = control.client("ecs", region)
        for cluster in ecs.list_clusters().get("clusterArns", []):
            arns = ecs.list_services(cluster=cluster, maxResults=100).get("serviceArns", [])
            for start in range(0, len(arns), 10):
                described = ecs.describe_services(
                    cluster=cluster, services=arns[start : start + 10]
                )
                for service in described.get("services", []):
                    spec = ServiceSpec.from_description(service, region)
                    view.services[spec.arn] = spec
                    if spec.task_definition_arn not in view.definitions:
                        definition = ecs.describe_task_definition(
                            taskDefinition=spec.task_definition_arn
                        )["taskDefinition"]
                        view.definitions[spec.task_definition_arn] = definition
    return view


def read_secrets(client: Callable[[str], Any], container: Mapping[str, Any]) -> dict[str, str]:
    """The container's secrets, read as the ECS agent reads them (decrypted), with the
    clients `client(service)` gives (the execution role's)."""
    values = {}
    parameters: dict[str, str] = {}  # parameter name -> variable
    for secret in container.get("secrets") or []:
        source = str(secret["valueFrom"])
        if ":secretsmanager:" in source:
            answer = client("secretsmanager").get_secret_value(SecretId=source)
            values[secret["name"]] = str(answer.get("SecretString", ""))
        else:  # by name: moto's GetParameters does not take ARNs
            parameters[parameter_name(source)] = str(secret["name"])
    names = list(parameters)
    for start in range(0, len(names), 10):  # GetParameters takes ten names at most
        answer = client("ssm").get_parameters(Names=names[start : start + 10], WithDecryption=True)
        if answer.get("InvalidParameters"):
            raise LookupError(f"invalid parameters: {', '.join(answer['InvalidParameters'])}")
        for parameter in answer.get("Parameters", []):
            if parameter["Name"] in parameters:
                values[parameters[parameter["Name"]]] = str(parameter["Value"])
    missing = [name for name in parameters.values() if name not in values]
    if missing:
        raise LookupError(f"no value for {', '.join(missing)}")
    return values


# --- a task's IAM roles ---------------------------------------------------------------

ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"
CREDENTIALS_PATH = "/v2/credentials/"
# A session is replaced this long before it expires (botocore refreshes 15 min before).
CREDENTIALS_MARGIN = 20 * 60.0


class TaskStartError(Exception):
    """A task ECS cannot start; the message is the stopped reason ECS gives it."""


def unable_to_assume(role_arn: str) -> str:
    return (
        f"ECS was unable to assume the role '{role_arn}' that was provided for this task. "
        "Please verify that the role being passed has the proper trust relationship and "
        "permissions and that your IAM user has permissions to pass this role."
    )


def secrets_failure(error: Exception) -> str:
    """The stopped reason of a task whose secrets the execution role cannot read."""
    return (
        "ResourceInitializationError: unable to pull secrets or registry auth: "
        f"unable to retrieve secrets from ssm: service call has been retried 1 time(s): {error}"
    )


def credentials_document(role_arn: str, credentials: Mapping[str, Any]) -> dict[str, str]:
    """What the container credentials endpoint answers (and botocore reads)."""
    expiration = credentials["Expiration"]
    if hasattr(expiration, "astimezone"):
        expiration = expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "RoleArn": role_arn,
        "AccessKeyId": str(credentials["AccessKeyId"]),
        "SecretAccessKey": str(credentials["SecretAccessKey"]),
        "Token": str(credentials["SessionToken"]),
        "Expiration": str(expiration),
    }


def expires_at(credentials: Mapping[str, Any]) -> float:
    expiration = credentials["Expiration"]
    if hasattr(expiration, "timestamp"):
        return float(expiration.timestamp())
    return datetime.fromisoformat(str(expiration).replace("Z", "+00:00")).timestamp()


class TaskRoles:
    """The sessions of each task's roles, assumed as ECS assumes them (as
    ecs-tasks.amazonaws.com, for the task), and what the credentials endpoint serves."""

    def __init__(self, control: Any) -> None:
        self.control = control
        self.sessions: dict[tuple[str, str], dict[str, Any]] = {}  # (role, task) -> creds

    def assume(self, role_arn: str, task_arn: str, region: str) -> dict[str, Any]:
        """A session of `role_arn` for the task (cached until near its expiry)."""
        key = (role_arn, task_arn)
        cached = self.sessions.get(key)
        if cached is not None and expires_at(cached) - time.time() > CREDENTIALS_MARGIN:
            return cached
        try:
            credentials: dict[str, Any] = self.control.assume_role_as_service(
                role_arn,
                task_arn.rsplit("/", 1)[-1],  # ECS names the session after the task
                service=ECS_TASKS_PRINCIPAL,
                source_arn=task_arn,
                region=region,
            )
        except Exception as error:  # noqa: BLE001 - ECS reports every failure so
            raise TaskStartError(unable_to_assume(role_arn)) from error
        self.sessions[key] = credentials
        return credentials

    def forget(self, task_arn: str) -> None:
        for key in [k for k in self.sessions if k[1] == task_arn]:
            del self.sessions[key]

    def read_secrets(
        self, definition: Mapping[str, Any], task_arn: str, region: str
    ) -> dict[str, str]:
        """The app container's secrets, read with the execution role's session."""
        container = app_container(definition)
        if not container.get("secrets"):
            return {}
        role_arn = str(definition.get("executionRoleArn") or "")
        if not role_arn:
            raise TaskStartError(
                "ResourceInitializationError: unable to pull secrets or registry auth: "
                "the task definition has no execution role to read its secrets with"
            )
        credentials = self.assume(role_arn, task_arn, region)
        try:
            return read_secrets(
                lambda service: self.control.client_as(credentials, service, region), container
            )
        except Exception as error:  # noqa: BLE001 - the agent fails the task with it
            raise TaskStartError(secrets_failure(error)) from error
        finally:
            self.sessions.pop((role_arn, task_arn), None)  # the agent's session ends here


def credentials_response(
    path: str, authorization: str | None, tasks: Mapping[str, LocalTask], roles: TaskRoles
) -> tuple[int, Any]:
    """Answer `GET /v2/credentials/<task id>` with the task role's session, for the
    task that presents its token (AWS_CONTAINER_AUTHORIZATION_TOKEN)."""
    task = tasks.get(path[len(CREDENTIALS_PATH) :].strip("/"))
    if task is None or not task.credentials_token or authorization != task.credentials_token:
        return 401, {"code": "AccessDenied", "message": "unknown task or token"}
    if not task.task_role_arn:
        return 404, {"code": "NoCredentials", "message": "the task has no task role"}
    try:
        credentials = roles.assume(task.task_role_arn, task.arn, task.region)
    except TaskStartError as error:
        return 500, {"code": "AssumeRoleFailed", "message": str(error)}
    return 200, credentials_document(task.task_role_arn, credentials)


@dataclass(frozen=True)
class GroupInfo:
    """What ECS needs of a target group: its delay and what is registered in it."""

    deregistration_delay: float
    registered: tuple[tuple[str, int], ...]


# --- the scheduler ------------------------------------------------------------------


# (Redis host, service ARN) -> (a replication group's endpoint?, the port its tasks use)
RedisLookup = Callable[[str, str], tuple[bool, int | None]]


class EcsScheduler:
    """Runs each service's tasks: start, register, watch, replace, drain, stop."""

    def __init__(
        self,
        *,
        control: Any,
        checker: Any,
        local_dir: Path,
        app_dir: Path | None,
        instance_id: str,
        metadata_uri: Callable[[str], str],
        redis_for: RedisLookup,
        credentials_uri: Callable[[str], str] | None = None,
        on_change: Callable[[], None],
    ) -> None:
        self.control = control
        self.checker = checker
        self.local_dir = local_dir
        self.app_dir = app_dir
        self.instance_id = instance_id
        self.metadata_uri = metadata_uri
        self.credentials_uri = credentials_uri or (lambda task_id: CREDENTIALS_PATH + task_id)
        self.redis_for = redis_for
        self.on_change = on_change
        self.table = TaskTable()
        self.roles = TaskRoles(control)
        self.view = EcsView()
        self.groups: dict[str, GroupInfo] = {}
        self.read_ok = False
        self.failures: dict[str, tuple[int, float]] = {}  # service -> (count, retry after)
        # The circuit breaker: tasks of each (service, task definition) that failed, the
        # deployments it failed, and each service's last task definition that completed.
        self.failed_tasks: dict[tuple[str, str], int] = {}
        self.failed_deployments: dict[tuple[str, str], str] = {}
        self.completed: dict[str, str] = {}
        self._starting: set[str] = set()
        self._dirty: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()

    # --- state in and out -------------------------------------------------------------

    def update(self, view: EcsView, groups: Mapping[str, GroupInfo]) -> None:
        self.view = view
        self.groups = dict(groups)
        self.read_ok = True

    def adopt(self, details: list[dict[str, Any]], is_alive: Callable[[LocalTask], bool]) -> None:
        """Take over the tasks a previous supervisor recorded; forget the dead ones."""
        for detail in details:
            try:
                task = LocalTask.from_record(detail)
            except TypeError:
                continue
            if is_alive(task):
                self.table.add(task, None)
                log.info("adopted task %s (pid %s, port %s)", task.id, task.pid, task.port)
            else:
                log.info("task %s died while no supervisor ran", task.id)
                task.state = STOPPED
                self._spawn_background(self._deregister(task))
            self._dirty.add(task.service_arn)

    def records(self) -> list[LocalTask]:
        return list(self.table.tasks.values())

    # --- the loop body ---------------------------------------------------------------

    async def tick(self) -> None:
        now = time.time()
        for task in list(self.table.tasks.values()):
            await self._advance(task, now)
        if self.read_ok:
            for spec in self.view.services.values():
                self._converge(spec, now)
            for arn in {t.service_arn for t in self.table.tasks.values()}:
                if arn not in self.view.services:
                    self._teardown_service(arn, now)
            self._clean_stray_targets()
        if self._dirty:
            await self._report()

    async def _advance(self, task: LocalTask, now: float) -> None:
        exited = self.table.exited(task)
        if exited:
            if task.desired_status == RUNNING:
                log.warning("task %s (%s) exited on its own", task.id, task.service_name)
                self._note_failure(task.service_arn, now, started=task.started_at is not None)
                self._count_failed(task.service_arn, task.definition_arn)
                await self._deregister(task)
            self.table.remove(task.id)
            self.roles.forget(task.arn)
            self._dirty.add(task.service_arn)
            self.on_change()
            return
        if task.state == PENDING:
            if port_open(task.port):
                task.state = RUNNING
                task.started_at = now
                self.failures.pop(task.service_arn, None)
                self._dirty.add(task.service_arn)
                self.on_change()
                self._spawn_background(self._register(task))
            elif now - task.created_at > START_TIMEOUT:
                self._stop(task, "Task failed to start: the container did not listen", now, 0)
                self._count_failed(task.service_arn, task.definition_arn)
            return
        if task.state == DEACTIVATING and task.sigterm_at is not None and now >= task.sigterm_at:
            self._signal(task, signal.SIGTERM)
            task.state = STOPPING
            task.kill_at = now + task.stop_timeout
            self._dirty.add(task.service_arn)
            self.on_change()
        elif task.state == STOPPING and task.kill_at is not None and now >= task.kill_at:
            log.warning("task %s did not stop within %.0fs: SIGKILL", task.id, task.stop_timeout)
            self._signal(task, signal.SIGKILL)
            task.kill_at = now + 3600

    def _signal(self, task: LocalTask, signum: int) -> None:
        try:
            os.kill(task.pid, signum)
        except ProcessLookupError:
            pass

    def _serving(self, task: LocalTask) -> bool:
        if task.state != RUNNING:
            return False
        if not task.targets:
            return True
        if not task.registered:
            return False
        return all(
            self.checker.state((arn, "127.0.0.1", task.port)) == "healthy" for arn in task.targets
        )

    def _unhealthy(self, task: LocalTask) -> bool:
        return task.registered and any(
            self.checker.state((arn, "127.0.0.1", task.port)) == "unhealthy" for arn in task.targets
        )

    def _converge(self, spec: ServiceSpec, now: float) -> None:
        if spec.status != "ACTIVE":
            self._teardown_service(spec.arn, now)
            return
        for task in self.table.live(spec.arn):
            started = task.started_at or task.created_at
            if self._unhealthy(task) and now - started >= spec.grace_period:
                groups = ", ".join(arn.rsplit("/", 2)[-2] for arn in task.targets)
                self._stop(task, f"Task failed ELB health checks in (target-group {groups})", now)
                self._count_failed(spec.arn, task.definition_arn)
        live = [
            TaskView(t.id, t.definition_arn, t.started_at or t.created_at, self._serving(t))
            for t in self.table.live(spec.arn)
        ]
        if self._breaker_tripped(spec, live):
            return
        plan = plan_service(spec, live)
        for task_id in plan.stop:
            task = self.table.tasks[task_id]
            self._stop(task, "Scaling activity initiated by (deployment)", now)
        count, retry_after = self.failures.get(spec.arn, (0, 0.0))
        if plan.start and spec.arn not in self._starting and now >= retry_after:
            self._starting.add(spec.arn)
            self._spawn_background(self._start(spec, plan.start))

    def _count_failed(self, service_arn: str, definition_arn: str) -> None:
        key = (service_arn, definition_arn)
        self.failed_tasks[key] = self.failed_tasks.get(key, 0) + 1
        self._dirty.add(service_arn)

    def _breaker_tripped(self, spec: ServiceSpec, live: list[TaskView]) -> bool:
        """ECS's deployment circuit breaker; True when this deployment starts nothing more.

        A deployment whose tasks failed as often as the threshold is FAILED: with
        rollback, the service goes back to the last task definition that completed (an
        UpdateService, as ECS makes it); without, no new task is started for it.
        """
        key = (spec.arn, spec.task_definition_arn)
        serving = [t for t in live if t.serving and t.definition == spec.task_definition_arn]
        if len(serving) >= spec.desired and len(live) == len(serving):
            self.completed[spec.arn] = spec.task_definition_arn
        if key in self.failed_deployments:
            return not spec.rollback
        failed = self.failed_tasks.get(key, 0)
        if not spec.circuit_breaker or failed < spec.failure_threshold:
            return False
        previous = self.completed.get(spec.arn)
        reason = (
            f"ECS deployment circuit breaker: {failed} task(s) failed to start or to become healthy"
        )
        if spec.rollback and previous and previous != spec.task_definition_arn:
            reason += f"; rolling back to {previous.rsplit('/', 1)[-1]}"
            self._spawn_background(
                self._call(
                    "ecs",
                    spec.region,
                    "update_service",
                    cluster=spec.cluster_arn,
                    service=spec.arn,
                    taskDefinition=previous,
                )
            )
        log.warning("%s: %s", spec.name, reason)
        self.failed_deployments[key] = reason
        self._dirty.add(spec.arn)
        return not spec.rollback

    def _note_failure(self, service_arn: str, now: float, *, started: bool) -> None:
        count, _ = self.failures.get(service_arn, (0, 0.0))
        count = count + 1 if not started else 1
        # ECS throttles a service whose tasks keep failing; so do we (up to a minute).
        self.failures[service_arn] = (count, now + min(60.0, 2.0 ** (count - 1) - 1))

    def _teardown_service(self, service_arn: str, now: float) -> None:
        for task in self.table.of_service(service_arn):
            if task.state in (STOPPING, STOPPED):
                continue
            task.desired_status = STOPPED
            task.stop_reason = "ECS service deleted"
            task.stop_timeout = min(task.stop_timeout, TEARDOWN_KILL_AFTER)
            task.state = DEACTIVATING
            task.sigterm_at = now
            if task.registered:
                self._spawn_background(self._deregister(task))
            self._dirty.add(service_arn)

    def _stop(self, task: LocalTask, reason: str, now: float, delay: float | None = None) -> None:
        """ECS's order: deregister, SIGTERM after the deregistration delay, then SIGKILL."""
        if task.desired_status != RUNNING:
            return
        log.info("stopping task %s of %s: %s", task.id, task.service_name, reason)
        task.desired_status = STOPPED
        task.stop_reason = reason
        task.state = DEACTIVATING
        if delay is None:
            delays = [self.groups[a].deregistration_delay for a in task.targets if a in self.groups]
            delay = max(delays) if task.registered and delays else 0.0
        task.sigterm_at = now + delay
        if task.registered:
            self._spawn_background(self._deregister(task))
        self._dirty.add(task.service_arn)
        self.on_change()

    def _clean_stray_targets(self) -> None:
        """Loopback targets in a service's groups that no task of ours holds (left by a
        crash) are deregistered, as ECS never leaves a target without its task."""
        ours = {t.port for t in self.table.tasks.values()}
        for spec in self.view.services.values():
            for link in spec.load_balancers:
                info = self.groups.get(link.target_group_arn)
                if info is None:
                    continue
                stray = [
                    {"Id": target_id, "Port": port}
                    for target_id, port in info.registered
                    if target_id == "127.0.0.1" and port not in ours
                ]
                if stray:
                    self.groups[link.target_group_arn] = GroupInfo(
                        info.deregistration_delay,
                        tuple(t for t in info.registered if t[1] in ours),
                    )
                    self._spawn_background(
                        self._call(
                            "elbv2",
                            spec.region,
                            "deregister_targets",
                            TargetGroupArn=link.target_group_arn,
                            Targets=stray,
                        )
                    )

    # --- actions (in threads: boto3 and process starts block) --------------------------

    def _spawn_background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _call(self, api: str, region: str, operation: str, **kwargs: Any) -> Any:
        client = self.control.client(api, region)
        try:
            return await asyncio.to_thread(getattr(client, operation), **kwargs)
        except Exception as error:  # noqa: BLE001 - logged; the next reconcile retries
            log.warning("%s %s failed: %s", api, operation, error)
            return None

    async def _register(self, task: LocalTask) -> None:
        for arn in task.targets:
            await self._call(
                "elbv2",
                task.region,
                "register_targets",
                TargetGroupArn=arn,
                Targets=[{"Id": "127.0.0.1", "Port": task.port}],
            )
            self.checker.watch((arn, "127.0.0.1", task.port))
        task.registered = True
        self.on_change()

    async def _deregister(self, task: LocalTask) -> None:
        if not task.registered:
            return
        task.registered = False
        for arn in task.targets:
            self.checker.forget((arn, "127.0.0.1", task.port))
            await self._call(
                "elbv2",
                task.region,
                "deregister_targets",
                TargetGroupArn=arn,
                Targets=[{"Id": "127.0.0.1", "Port": task.port}],
            )

    async def _start(self, spec: ServiceSpec, count: int) -> None:
        try:
            for _ in range(count):
                if not await self._start_one(spec):
                    break
        finally:
            self._starting.discard(spec.arn)

    async def _start_one(self, spec: ServiceSpec) -> bool:
        from chatops.emulator.dataplane.state import choose_port, marker

        definition = self.view.definitions.get(spec.task_definition_arn)
        if definition is None:
            return False
        container = app_container(definition)
        image = str(container.get("image", ""))
        source = source_dir(image, self.local_dir, self.app_dir)
        now = time.time()
        if source is not None and not (source / "chatapp").is_dir():
            log.error("task of %s cannot start: no chatapp package in %s", spec.name, source)
            self._note_failure(spec.arn, now, started=False)
            self._count_failed(spec.arn, spec.task_definition_arn)
            return False
        redis_port = None
        redis_host = next(
            (e["value"] for e in container.get("environment", []) if e["name"] == "REDIS_HOST"),
            None,
        )
        if redis_host:
            known, redis_port = self.redis_for(str(redis_host), spec.arn)
            if known and redis_port is None:
                log.info("task of %s waits for its Redis (%s)", spec.name, redis_host)
                return False
        task_id = new_task_id()
        arn = task_arn(spec.cluster_arn, task_id)
        task_role = str(definition.get("taskRoleArn") or "")
        try:
            secret_values = await asyncio.to_thread(
                self.roles.read_secrets, definition, arn, spec.region
            )
            if task_role:  # the agent fetches the task role's first session before starting
                await asyncio.to_thread(self.roles.assume, task_role, arn, spec.region)
        except TaskStartError as error:
            log.error("task %s of %s stopped: %s", task_id, spec.name, error)
            self._note_failure(spec.arn, now, started=False)
            self._count_failed(spec.arn, spec.task_definition_arn)
            return False
        token = random_tokens.token_urlsafe(24)
        port = choose_port(None)
        task_marker = marker(self.instance_id, f"task:{task_id}")
        env = task_environment(
            container,
            secret_values,
            port=port,
            redis_port=redis_port,
            aws_endpoint=self.control.endpoint,
            metadata_uri=self.metadata_uri(task_id),
            marker=task_marker,
            source=source,
            credentials_uri=self.credentials_uri(task_id) if task_role else None,
            credentials_token=token,
        )
        log_path = self.local_dir / "logs" / spec.name / f"{task_id}.log"
        process = await asyncio.to_thread(spawn, env, log_path, source)
        task = LocalTask(
            id=task_id,
            arn=arn,
            service_arn=spec.arn,
            service_name=spec.name,
            cluster_arn=spec.cluster_arn,
            region=spec.region,
            definition_arn=spec.task_definition_arn,
            image=image,
            container_name=str(container.get("name", APP_CONTAINER)),
            colour=colour_of(container),
            port=port,
            pid=process.pid,
            marker=task_marker,
            log_path=str(log_path),
            stop_timeout=float(container.get("stopTimeout") or DEFAULT_STOP_TIMEOUT),
            targets=[link.target_group_arn for link in spec.load_balancers],
            task_role_arn=task_role,
            credentials_token=token,
        )
        self.table.add(task, process)
        log.info("started task %s of %s (pid %s, port %s)", task_id, spec.name, task.pid, port)
        self._dirty.add(spec.arn)
        self.on_change()
        return True

    async def _report(self) -> None:
        dirty, self._dirty = self._dirty, set()
        services = [
            {
                "ServiceArn": arn,
                "Tasks": [t.describe() for t in self.table.of_service(arn)],
                "Deployments": [
                    {
                        "taskDefinition": definition,
                        "failedTasks": count,
                        "failure": self.failed_deployments.get((service, definition)),
                    }
                    for (service, definition), count in self.failed_tasks.items()
                    if service == arn
                ],
            }
            for arn in dirty
        ]
        try:
            await asyncio.to_thread(self.control.report, "ecs-tasks", {"Services": services})
        except Exception as error:  # noqa: BLE001 - reported again at the next change
            log.warning("could not report tasks: %s", error)
            self._dirty |= dirty

    async def stop_all(self, kill_after: float = 5.0) -> None:
        """Stop every task now (the emulator is stopping): SIGTERM, SIGKILL after a while."""
        for task in self.table.tasks.values():
            self._signal(task, signal.SIGTERM)
        deadline = time.monotonic() + kill_after
        while time.monotonic() < deadline:
            if all(self.table.exited(t) for t in self.table.tasks.values()):
                return
            await asyncio.sleep(0.1)
        for task in self.table.tasks.values():
            if not self.table.exited(task):
                self._signal(task, signal.SIGKILL)

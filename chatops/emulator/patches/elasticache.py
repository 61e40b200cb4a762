"""ElastiCache: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.elasticache import exceptions as elasticache_exceptions
from moto.elasticache import models as elasticache_models
from moto.elasticache import responses as elasticache_responses

from chatops.emulator.patches.registry import Patch, Revert, chain, replace


def _member_cluster_ids(group_id: str, count: int) -> list[str]:
    return [f"{group_id}-{index:03d}" for index in range(1, count + 1)]


def _set_members(
    backend: Any, group: Any, count: int, zones: list[str], auth_token: str | None
) -> None:
    """Give a replication group `count` member cache clusters (<id>-001, -002, ...),
    keeping the members it has and deleting the ones past `count`, as ElastiCache does."""
    node_group = group.node_groups[0]
    template = node_group["node_group_members"][0]
    domain = node_group["primary_endpoint_address"].removeprefix("master.")
    members = []
    for index, cluster_id in enumerate(_member_cluster_ids(group.replication_group_id, count)):
        zone = zones[index % len(zones)] if zones else f"{backend.region_name}a"
        members.append(
            {
                "cache_cluster_id": cluster_id,
                "cache_node_id": template["cache_node_id"],
                "read_endpoint": {"address": f"{cluster_id}.{domain}", "port": group.port},
                "preferred_availability_zone": zone,
                "current_role": "primary" if index == 0 else "replica",
            }
        )
        if cluster_id in backend.cache_clusters:
            continue
        cluster: Any = elasticache_models.CacheCluster(
            account_id=backend.account_id,
            region_name=backend.region_name,
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
            auth_token=auth_token,
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
        backend.cache_clusters[cluster_id] = cluster
    node_group["node_group_members"] = members
    group.member_clusters[:] = [member["cache_cluster_id"] for member in members]
    group.primary_cluster_id = members[0]["cache_cluster_id"]
    for cluster_id in list(backend.cache_clusters):
        cluster = backend.cache_clusters[cluster_id]
        if (
            getattr(cluster, "replication_group_id", None) == group.replication_group_id
            and cluster_id not in group.member_clusters
        ):
            del backend.cache_clusters[cluster_id]


def _install_replication_group_members() -> Revert:
    backend_cls = elasticache_models.ElastiCacheBackend
    original = backend_cls.create_replication_group

    def create_replication_group(self: Any, **kwargs: Any) -> Any:
        group = original(self, **kwargs)
        if group.cluster_mode == "enabled":
            return group
        count = kwargs.get("num_cache_clusters") or (kwargs.get("replicas_per_node_group") or 0) + 1
        zones = kwargs.get("preferred_cache_cluster_azs") or []
        _set_members(self, group, count, zones, kwargs.get("auth_token"))
        return group

    return replace(backend_cls, "create_replication_group", create_replication_group)


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

    return replace(backend_cls, "delete_replication_group", delete_replication_group)


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

    return chain(
        replace(elasticache_models.ElastiCacheBackend, "delete_cache_subnet_group", backend_delete),
        replace(
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

    return replace(cls, "__init__", __init__)


def _install_cache_cluster_security_groups() -> Revert:
    def security_groups(self: Any) -> list[dict[str, str]]:
        return [{"SecurityGroupId": group, "Status": "active"} for group in self.security_group_ids]

    return replace(elasticache_models.CacheCluster, "security_groups", property(security_groups))


def _install_modify_replication_group() -> Revert:
    responses_cls = elasticache_responses.ElastiCacheResponse

    def group_of(response: Any) -> Any:
        group_id = response._get_param("ReplicationGroupId")
        backend = response.elasticache_backend
        if group_id not in backend.replication_groups:
            raise elasticache_exceptions.ReplicationGroupNotFound(group_id)
        return backend, backend.replication_groups[group_id]

    def zones_of(backend: Any, group: Any) -> list[str]:
        return [
            backend.cache_clusters[cluster_id].preferred_availability_zone
            for cluster_id in group.member_clusters
            if cluster_id in backend.cache_clusters
        ]

    def modify_replication_group(self: Any) -> ActionResult:
        backend, group = group_of(self)
        failover = self._get_bool_param("AutomaticFailoverEnabled")
        multi_az = self._get_bool_param("MultiAZEnabled")
        if failover is not None:
            group.automatic_failover = "enabled" if failover else "disabled"
        if multi_az is not None:
            group.multi_az = "enabled" if multi_az else "disabled"
        for param, attribute in (
            ("CacheNodeType", "cache_node_type"),
            ("Engine", "engine"),
            ("EngineVersion", "engine_version"),
            ("CacheParameterGroupName", "cache_parameter_group_name"),
            ("SecurityGroupIds", "security_group_ids"),
            ("SnapshotRetentionLimit", "snapshot_retention_limit"),
            ("SnapshotWindow", "snapshot_window"),
            ("PreferredMaintenanceWindow", "preferred_maintenance_window"),
            ("ReplicationGroupDescription", "description"),
        ):
            value = self._get_param(param)
            if value is not None:
                setattr(group, attribute, value)
        for cluster_id in group.member_clusters:
            cluster = backend.cache_clusters.get(cluster_id)
            if cluster is not None:
                cluster.cache_node_type = group.cache_node_type
                cluster.engine = group.engine
                cluster.engine_version = group.engine_version
                cluster.cache_parameter_group_name = group.cache_parameter_group_name
                cluster.security_group_ids = group.security_group_ids
        return ActionResult({"ReplicationGroup": group})

    def change_replica_count(self: Any, step: int) -> ActionResult:
        backend, group = group_of(self)
        wanted = self._get_int_param("NewReplicaCount")
        count = (wanted + 1) if wanted is not None else len(group.member_clusters) + step
        if count < 1 or (group.automatic_failover == "enabled" and count < 2):
            raise elasticache_exceptions.InvalidParameterValueException(
                "Automatic failover requires at least one replica"
                if count >= 1
                else "NewReplicaCount must be at least 0"
            )
        _set_members(backend, group, count, zones_of(backend, group), None)
        return ActionResult({"ReplicationGroup": group})

    def increase_replica_count(self: Any) -> ActionResult:
        return change_replica_count(self, 1)

    def decrease_replica_count(self: Any) -> ActionResult:
        return change_replica_count(self, -1)

    return chain(
        replace(responses_cls, "modify_replication_group", modify_replication_group),
        replace(responses_cls, "increase_replica_count", increase_replica_count),
        replace(responses_cls, "decrease_replica_count", decrease_replica_count),
    )


# Current-generation node types, offered in every region the emulator serves (AWS offers
# fewer in some regions: the emulator does not know which).
_SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
OFFERED_NODE_TYPES = frozenset(
    [f"cache.{family}.{size}" for family in ("t4g", "t3") for size in ("micro", "small", "medium")]
    + [
        f"cache.{family}.{size}"
        for family in ("m5", "m6g", "m7g", "r5", "r6g", "r7g")
        for size in _SIZES
    ]
)


def _install_reserved_offerings() -> Revert:
    """One "No Upfront", one-year offering per offered node type and engine (no prices)."""

    def describe_reserved_cache_nodes_offerings(self: Any) -> ActionResult:
        wanted_type = self._get_param("CacheNodeType")
        wanted_product = self._get_param("ProductDescription")
        offerings: list[dict[str, Any]] = [
            {
                "ReservedCacheNodesOfferingId": f"{node_type}-{product}-1y-no-upfront",
                "CacheNodeType": node_type,
                "Duration": 31536000,
                "ProductDescription": product,
                "OfferingType": "No Upfront",
                "RecurringCharges": [],
            }
            for node_type in sorted(OFFERED_NODE_TYPES)
            for product in ("redis", "valkey")
            if wanted_type in (None, node_type) and wanted_product in (None, product)
        ]
        return ActionResult({"ReservedCacheNodesOfferings": offerings})

    return replace(
        elasticache_responses.ElastiCacheResponse,
        "describe_reserved_cache_nodes_offerings",
        describe_reserved_cache_nodes_offerings,
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
        "elasticache-modify-replication-group",
        "ModifyReplicationGroup, IncreaseReplicaCount and DecreaseReplicaCount are not "
        "implemented: switching a deployed stack to the hackathon profile (one Valkey "
        "node, no failover) hangs while the provider retries.",
        _install_modify_replication_group,
    ),
)


# --- Rule: parameter groups that exist, of the engine version's family ------------------

# The default parameter groups ElastiCache has in every region, by family. moto has no
# parameter groups at all (CreateCacheParameterGroup is not implemented either).
DEFAULT_PARAMETER_GROUP_FAMILIES = (
    "memcached1.4",
    "memcached1.5",
    "memcached1.6",
    "redis2.6",
    "redis2.8",
    "redis3.2",
    "redis4.0",
    "redis5.0",
    "redis6.x",
    "redis7",
    "valkey7",
    "valkey8",
)
DEFAULT_PARAMETER_GROUPS = {
    f"default.{family}{suffix}": family
    for family in DEFAULT_PARAMETER_GROUP_FAMILIES
    for suffix in ("", ".cluster.on")
    if not suffix or not family.startswith(("memcached", "redis2"))  # no cluster mode
}
# What CreateReplicationGroup / CreateCacheCluster take when no version is given.
DEFAULT_ENGINE_VERSIONS = {"redis": "7.1", "valkey": "8.0", "memcached": "1.6.22"}


def parameter_group_family(engine: str, version: str) -> str:
    """The family of an engine version's parameter groups: redis 6.2 -> redis6.x."""
    major, _, rest = version.partition(".")
    minor = rest.partition(".")[0]
    if engine == "valkey":
        return f"valkey{major}"
    if engine == "memcached":
        return f"memcached{major}.{minor}"
    if major.isdigit() and int(major) >= 7:
        return f"redis{major}"
    return "redis6.x" if major == "6" else f"redis{major}.{minor}"


class CacheParameterGroupNotFound(elasticache_exceptions.ElastiCacheException):
    code = "CacheParameterGroupNotFound"

    def __init__(self, name: str) -> None:
        super().__init__(f"CacheParameterGroup not found: {name}")


def _check_parameter_group(kwargs: dict[str, Any]) -> None:
    name = kwargs.get("cache_parameter_group_name")
    if not name:
        return  # ElastiCache picks the version's default group
    family = DEFAULT_PARAMETER_GROUPS.get(name)
    if family is None:
        raise CacheParameterGroupNotFound(name)
    engine = str(kwargs.get("engine") or "redis").lower()
    version = kwargs.get("engine_version") or DEFAULT_ENGINE_VERSIONS.get(engine, "")
    expected = parameter_group_family(engine, str(version))
    if family != expected:
        raise elasticache_exceptions.InvalidParameterCombinationException(
            f"Expected a parameter group of family {expected} but found one of family {family}"
        )


def _install_parameter_groups() -> Revert:
    backend_cls = elasticache_models.ElastiCacheBackend
    original_group = backend_cls.create_replication_group
    original_cluster = backend_cls.create_cache_cluster

    def create_replication_group(self: Any, **kwargs: Any) -> Any:
        _check_parameter_group(kwargs)
        return original_group(self, **kwargs)

    def create_cache_cluster(self: Any, **kwargs: Any) -> Any:
        if not kwargs.get("replication_group_id"):  # a member takes its group's
            _check_parameter_group(kwargs)
        return original_cluster(self, **kwargs)

    return chain(
        replace(backend_cls, "create_replication_group", create_replication_group),
        replace(backend_cls, "create_cache_cluster", create_cache_cluster),
    )


PATCHES = (
    *PATCHES,
    Patch(
        "elasticache-parameter-groups",
        "Any CacheParameterGroupName is accepted; ElastiCache refuses one that does not exist "
        "(CacheParameterGroupNotFound) or whose family is not the engine version's "
        "(InvalidParameterCombination 'Expected a parameter group of family ...').",
        _install_parameter_groups,
    ),
    Patch(
        "elasticache-reserved-offerings",
        "DescribeReservedCacheNodesOfferings is not implemented: nothing tells which cache "
        "node types a region offers.",
        _install_reserved_offerings,
    ),
)

"""CloudWatch: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

import math
import re
from typing import Any

from moto.cloudwatch import models as cloudwatch_models
from moto.cloudwatch import responses as cloudwatch_responses

from chatops.emulator.patches.registry import Patch, Revert, chain, replace


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

    return chain(
        replace(backend_cls, "put_metric_data", put_metric_data),
        replace(cloudwatch_models.Statistics, "ExtendedStatistics", property(extended)),
        replace(response_cls, "get_metric_statistics", get_metric_statistics),
    )


PATCHES: tuple[Patch, ...] = (
    Patch(
        "cloudwatch-metric-distributions",
        "GetMetricStatistics ignores ExtendedStatistics, so a p95 alarm (the stack's "
        "response-time alarms) has nothing to evaluate; and PutMetricData expands "
        "Values/Counts into one stored datum per count, so a load balancer's latencies "
        "grow the store by a datum per request. Values/Counts are kept as one datum, and "
        "pNN percentiles are computed from them.",
        _install_metric_distributions,
    ),
)

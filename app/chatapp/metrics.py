"""The open-connection metric: CloudWatch PutMetricData, per colour and task.

Every METRICS_INTERVAL seconds `WebSocketConnections` (Count) with the dimensions
Colour and Task, and a final 0 at shutdown, so a stopped task does not look busy.
Failures are logged, never fatal. Disabled when METRICS_NAMESPACE is empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from chatapp.aws import Aws, AwsError
from chatapp.config import Config
from chatapp.logs import log

METRIC_NAME = "WebSocketConnections"


class Metrics:
    def __init__(self, config: Config, aws: Aws, task: str, count: Callable[[], int]) -> None:
        assert config.metrics_namespace is not None
        self.namespace = config.metrics_namespace
        self.interval = config.metrics_interval
        self.dimensions = [
            {"Name": "Colour", "Value": config.colour},
            {"Name": "Task", "Value": task},
        ]
        self.count = count
        self._aws = aws
        self._client = aws.client("cloudwatch")

    async def put(self, value: int) -> None:
        try:
            await self._aws.call(
                self._client.put_metric_data,
                Namespace=self.namespace,
                MetricData=[
                    {
                        "MetricName": METRIC_NAME,
                        "Dimensions": self.dimensions,
                        "Unit": "Count",
                        "Value": float(value),
                    }
                ],
            )
        except AwsError as error:
            log.warning("metric_failed", error=str(error))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.put(self.count())

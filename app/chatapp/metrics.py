"""The open-connection metric: CloudWatch PutMetricData, per colour and task.

Every METRICS_INTERVAL seconds `WebSocketConnections` (Count) with the dimensions
Colour and Task, and a final 0 at shutdown, so a stopped task does not look busy.
While the task drains it reports every DRAINING_INTERVAL seconds: that is when an
operator watches the count fall (`chatops retire`). High resolution (1 s storage), so
a reader can ask for the latest report rather than a minute's aggregate; it costs the
same as a standard custom metric. Failures are logged, never fatal. Disabled when
METRICS_NAMESPACE is empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from chatapp.aws import Aws, AwsError
from chatapp.config import Config
from chatapp.logs import log

METRIC_NAME = "WebSocketConnections"
DRAINING_INTERVAL = 5.0


class Metrics:
    def __init__(
        self,
        config: Config,
        aws: Aws,
        task: str,
        count: Callable[[], int],
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        assert config.metrics_namespace is not None
        self.namespace = config.metrics_namespace
        self.interval = config.metrics_interval
        self.dimensions = [
            {"Name": "Colour", "Value": config.colour},
            {"Name": "Task", "Value": task},
        ]
        self.count = count
        self.draining = draining
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
                        "StorageResolution": 1,
                    }
                ],
            )
        except AwsError as error:
            log.warning("metric_failed", error=str(error))

    async def run(self) -> None:
        waited = 0.0
        while True:
            step = min(self.interval, DRAINING_INTERVAL)
            await asyncio.sleep(step)
            waited += step
            if waited >= self.interval or self.draining():
                waited = 0.0
                await self.put(self.count())

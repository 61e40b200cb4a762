"""The open-connection metric: PutMetricData per colour and task, and a final 0."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.app.conftest import aws_client
from tests.app.helpers import ChatClient, ChatServer


def values(cloudwatch: Any, namespace: str, task: str, stat: str = "Maximum") -> list[float]:
    now = datetime.now(UTC)
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "connections",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": "WebSocketConnections",
                        "Dimensions": [
                            {"Name": "Colour", "Value": "green"},
                            {"Name": "Task", "Value": task},
                        ],
                    },
                    "Period": 1,
                    "Stat": stat,
                },
            }
        ],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        ScanBy="TimestampAscending",
    )
    return [float(v) for v in result["MetricDataResults"][0]["Values"]]


def test_open_connections_are_reported_then_a_final_zero(
    make_server: Callable[..., ChatServer], emulator_endpoint: str
) -> None:
    namespace = f"ChatTest/{uuid.uuid4().hex[:8]}"
    cloudwatch = aws_client(emulator_endpoint, "cloudwatch")
    server = make_server("green", METRICS_NAMESPACE=namespace, METRICS_INTERVAL="0.5")
    try:
        with ChatClient(server.ws), ChatClient(server.ws) as client:
            task = client.hello["task"]
            deadline = time.monotonic() + 10
            while 2.0 not in values(cloudwatch, namespace, task):
                assert time.monotonic() < deadline, values(cloudwatch, namespace, task)
                time.sleep(0.2)
            server.signal(signal.SIGTERM)
            client.close_code()
        assert server.wait(timeout=15) == 0
        # The last report (same second as others, hence the minimum) is a 0.
        assert values(cloudwatch, namespace, task, "Minimum")[-1] == 0.0
    finally:
        server.stop()

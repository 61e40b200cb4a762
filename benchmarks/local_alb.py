"""Benchmark: WebSocket round trips through the local ALB, against HAProxy and direct.

Starts an emulator with its data plane in a temporary home, creates (through the AWS
API, no Terraform) a load balancer, a listener, a target group and an ECS service of
two tasks, waits until they are healthy, then drives the same load three ways:

- direct: the clients connect to the tasks themselves (spread evenly);
- local ALB: through the data plane's proxy, as `--local` traffic flows;
- HAProxy: through `haproxy` (Debian package) balancing the same two tasks, when it is
  installed (skipped with a note otherwise).

Each run opens N WebSockets (default 500), authenticates them, then every connection
sends `ping` frames one after the other for the measured period and waits for each
`pong`. Printed: round trip p50 and p99, messages per second, and the ALB's ratios to
HAProxy (targets: throughput at least half of HAProxy's, p99 within 2x).

The tasks run the stand-in chat server of the tests (the process contract and the
subset of the protocol used here), so the figures measure the proxies, not the chat.

    python benchmarks/local_alb.py [--connections 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatops.emulator.manager import EmulatorManager  # noqa: E402
from chatops.processes import free_port, terminate  # noqa: E402
from tests.helpers import create_network  # noqa: E402

STANDIN = ROOT / "tests" / "dataplane" / "standin"


def build(endpoint: str) -> str:
    """The load balancer and a service of two tasks behind it; returns the group ARN."""

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="ap-northeast-2",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    ec2, elbv2, ecs = client("ec2"), client("elbv2"), client("ecs")
    vpc, subnets, group = create_network(ec2)
    balancer = elbv2.create_load_balancer(Name="bench", Subnets=subnets, SecurityGroups=[group])
    target_group = elbv2.create_target_group(
        Name="bench",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancers"][0]["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=balancer["LoadBalancers"][0]["LoadBalancerArn"],
        Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "300"}],
    )
    ecs.create_cluster(clusterName="bench")
    ecs.register_task_definition(
        family="bench",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "app",
                "image": "localhost/chatapp:standin",
                "essential": True,
                "environment": [{"name": "COLOR", "value": "blue"}],
            }
        ],
    )
    ecs.create_service(
        cluster="bench",
        serviceName="bench",
        taskDefinition="bench",
        desiredCount=2,
        loadBalancers=[
            {"targetGroupArn": target_group, "containerName": "app", "containerPort": 8080}
        ],
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}
        },
    )
    return str(target_group)


def wait_ready(local: Path, timeout: float = 60) -> tuple[list[int], int]:
    """The task ports and the ALB port once both tasks are healthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            record = json.loads((local / "dataplane.json").read_text())
        except (OSError, ValueError):
            record = {}
        processes = record.get("processes", {}).values()
        tasks = [p["port"] for p in processes if p["role"] == "task" and p["health"] == "healthy"]
        albs = [p["port"] for p in processes if p["role"] == "alb"]
        if len(tasks) == 2 and albs:
            return tasks, albs[0]
        time.sleep(0.3)
    sys.exit("the tasks did not become healthy in time")


def start_haproxy(backends: list[int], workdir: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    binary = shutil.which("haproxy")
    if binary is None:
        return None
    port = free_port()
    servers = "\n".join(f"    server t{i} 127.0.0.1:{p}" for i, p in enumerate(backends))
    config = workdir / "haproxy.cfg"
    config.write_text(
        "global\n    maxconn 4096\n"
        "defaults\n    mode http\n    timeout connect 10s\n    timeout client 300s\n"
        "    timeout server 300s\n    timeout tunnel 300s\n"
        f"frontend chat\n    bind 127.0.0.1:{port}\n    default_backend tasks\n"
        f"backend tasks\n    balance roundrobin\n{servers}\n"
    )
    process = subprocess.Popen(
        [binary, "-f", str(config), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)
    return process, port


async def drive(urls: list[str], connections: int, seconds: float) -> dict[str, float]:
    from websockets.asyncio.client import connect

    sockets = []
    for index in range(connections):
        websocket = await connect(urls[index % len(urls)], open_timeout=30, max_queue=None)
        await websocket.send(json.dumps({"type": "auth", "nickname": f"bench{index}"}))
        await websocket.recv()
        sockets.append(websocket)
    samples: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def loop(websocket: Any) -> None:
        frame = json.dumps({"type": "ping", "id": "x"})
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            await websocket.send(frame)
            await websocket.recv()
            samples.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(loop(ws) for ws in sockets))
    elapsed = time.perf_counter() - started
    for websocket in sockets:
        await websocket.close()
    quantiles = statistics.quantiles(samples, n=100)
    return {
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
        "messages_per_s": len(samples) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="chatops-bench-alb-"))
    local = home / "local"
    (local / "images").mkdir(parents=True)
    shutil.copytree(STANDIN, local / "images" / "standin")
    manager = EmulatorManager(local)
    haproxy = None
    try:
        emulator, _ = manager.start()
        build(emulator.endpoint)
        tasks, alb = wait_ready(local)
        haproxy = start_haproxy(tasks, home)
        modes = {
            "direct": [f"ws://127.0.0.1:{p}/ws" for p in tasks],
            "local ALB": [f"ws://127.0.0.1:{alb}/ws"],
        }
        if haproxy is not None:
            modes["HAProxy"] = [f"ws://127.0.0.1:{haproxy[1]}/ws"]
        results = {}
        for name, urls in modes.items():
            results[name] = asyncio.run(drive(urls, args.connections, args.seconds))
        print(f"{args.connections} WebSockets, ping/pong for {args.seconds:.0f} s each:")
        print(f"{'':12} {'p50 ms':>8} {'p99 ms':>8} {'msgs/s':>10}")
        for name, figures in results.items():
            print(
                f"{name:12} {figures['p50_ms']:8.2f} {figures['p99_ms']:8.2f} "
                f"{figures['messages_per_s']:10.0f}"
            )
        if "HAProxy" in results:
            ours, theirs = results["local ALB"], results["HAProxy"]
            throughput = ours["messages_per_s"] / theirs["messages_per_s"]
            p99 = ours["p99_ms"] / theirs["p99_ms"]
            print(
                f"local ALB / HAProxy: throughput {throughput:.2f}x (target >= 0.5), "
                f"p99 {p99:.2f}x (target <= 2)"
            )
        else:
            print("HAProxy is not installed (apt-get install haproxy): no comparison.")
    finally:
        if haproxy is not None:
            terminate(haproxy[0].pid, 5)
        manager.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

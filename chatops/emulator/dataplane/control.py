"""The data plane's side of the control plane: AWS clients on the emulator, its private
endpoints and its generation counter.

Every read the data plane makes (and its metric and alarm-state writes) carries the read
header, so the emulator's generation grows only with requests that may change what the
data plane runs; the reconcilers re-read the state when it grows (and every few seconds
regardless).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
from botocore.config import Config

from chatops.emulator.manager import GENERATION_PATH, PRIVATE_PREFIX, READ_HEADER, REGIONS_PATH

_READ_PREFIXES = ("Describe", "List", "Get")
# Writes that change nothing the data plane follows: the load balancer's metrics and
# the alarm states they lead to must not wake every reconciler.
_QUIET_WRITES = ("PutMetricData", "SetAlarmState", "AssumeRole")


def _mark_reads(params: dict[str, Any], model: Any, **_: Any) -> None:
    if model.name.startswith(_READ_PREFIXES) or model.name in _QUIET_WRITES:
        params["headers"][READ_HEADER] = "1"


class ControlPlane:
    """Clients of one emulator (thread-safe once created; boto3 clients are)."""

    def __init__(self, endpoint: str, region: str = "ap-northeast-2") -> None:
        self.endpoint = endpoint
        self.region = region
        self._session = boto3.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=region
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._config = Config(retries={"max_attempts": 2, "mode": "standard"}, read_timeout=30)

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            session: Any = self._session
            client: Any = session.client(
                service, region_name=key[1], endpoint_url=self.endpoint, config=self._config
            )
            client.meta.events.register("before-call.*.*", _mark_reads)
            self._clients[key] = client
        return self._clients[key]

    def assume_role_as_service(
        self,
        role_arn: str,
        session_name: str,
        *,
        service: str,
        source_arn: str,
        region: str | None = None,
    ) -> dict[str, Any]:
        """STS credentials for `role_arn`, asked for as `service` on behalf of the resource
        `source_arn` (as ECS assumes a task's roles): the emulator checks the trust policy
        against that service and source (the `sts-role-trust` rule)."""
        from chatops.emulator.patches.sts import (
            SERVICE_PRINCIPAL_HEADER,
            SOURCE_ACCOUNT_HEADER,
            SOURCE_ARN_HEADER,
        )

        headers = {
            SERVICE_PRINCIPAL_HEADER: service,
            SOURCE_ACCOUNT_HEADER: source_arn.split(":")[4],
            SOURCE_ARN_HEADER: source_arn,
        }

        def as_service(params: dict[str, Any], **_: Any) -> None:
            params["headers"].update(headers)

        # A client of its own: the headers are this call's, and calls are rare (a task start).
        session: Any = self._session
        sts: Any = session.client(
            "sts",
            region_name=region or self.region,
            endpoint_url=self.endpoint,
            config=self._config,
        )
        sts.meta.events.register("before-call.sts.AssumeRole", as_service)
        sts.meta.events.register("before-call.*.*", _mark_reads)
        answer: dict[str, Any] = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        return dict(answer["Credentials"])

    def client_as(self, credentials: dict[str, Any], service: str, region: str) -> Any:
        """A client of the emulator signed with `credentials` (a role session's)."""
        session = boto3.Session(
            aws_access_key_id=str(credentials["AccessKeyId"]),
            aws_secret_access_key=str(credentials["SecretAccessKey"]),
            aws_session_token=str(credentials["SessionToken"]),
            region_name=region,
        )
        client: Any = session.client(service, endpoint_url=self.endpoint, config=self._config)  # type: ignore[call-overload]
        client.meta.events.register("before-call.*.*", _mark_reads)
        return client

    def generation(self, timeout: float = 2.0) -> int | None:
        """The emulator's generation counter; None when it does not answer."""
        try:
            with urllib.request.urlopen(self.endpoint + GENERATION_PATH, timeout=timeout) as r:
                return int(json.load(r)["generation"])
        except (OSError, ValueError, KeyError, urllib.error.URLError):
            return None

    def regions(self, timeout: float = 5.0) -> list[str]:
        """Regions where the emulator holds balancers, services or caches."""
        with urllib.request.urlopen(self.endpoint + REGIONS_PATH, timeout=timeout) as response:
            return [str(region) for region in json.load(response)["regions"]]

    def report(self, name: str, body: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """POST a report to one of the emulator's private endpoints."""
        request = urllib.request.Request(
            self.endpoint + PRIVATE_PREFIX + name,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.load(response)
            return answer


def region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""

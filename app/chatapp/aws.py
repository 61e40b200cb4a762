"""AWS calls through boto3 in a bounded thread pool, each with a deadline.

boto3 is synchronous: its calls run on WORKERS threads, at most MAX_IN_FLIGHT wait
for one, and no call is awaited longer than CALL_TIMEOUT. The SDK reads the region
from the configuration and honours `AWS_ENDPOINT_URL` (the local emulator) itself.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

WORKERS = 16
MAX_IN_FLIGHT = 256
CALL_TIMEOUT = 10.0


class AwsError(Exception):
    """An AWS call failed (unreachable, refused, throttled or timed out)."""


class Aws:
    def __init__(self, region: str) -> None:
        self._session = boto3.session.Session(region_name=region)
        self._config = botocore.config.Config(
            connect_timeout=2,
            read_timeout=4,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=WORKERS,
        )
        self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="aws")
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    def client(self, service: str) -> Any:
        """A boto3 client (thread-safe) for `service`."""
        return self._session.client(service, config=self._config)  # type: ignore[call-overload]

    async def call(self, function: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Run `function(**kwargs)` on the pool. A conditional-check failure comes back
        as botocore's ClientError; every other failure as AwsError."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                async with self._slots:
                    return await loop.run_in_executor(
                        self._executor, functools.partial(function, **kwargs)
                    )
        except TimeoutError:
            raise AwsError(f"no answer within {CALL_TIMEOUT:.0f} s") from None
        except botocore.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise
            # AWS's message says what was refused (an AccessDenied names the action).
            message = error.response.get("Error", {}).get("Message", "")
            raise AwsError(
                f"refused: {code}: {message}" if code else f"refused: {error}"
            ) from error
        except botocore.exceptions.BotoCoreError as error:
            raise AwsError(f"unreachable: {error}") from error

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

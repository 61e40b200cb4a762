"""Background tasks with an owner: whoever spawns them cancels them on shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from chatapp.logs import log


class TaskSet:
    """A bounded set of running tasks; finished ones drop out, failures are logged."""

    def __init__(self, name: str, limit: int = 10_000) -> None:
        self.name = name
        self.limit = limit
        self.tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self.tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any] | None:
        """Run `coro` in the background; refused (closed, None) when `limit` are running."""
        if len(self.tasks) >= self.limit:
            coro.close()
            log.warning("tasks_full", owner=self.name, task=name, limit=self.limit)
            return None
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}")
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("task_failed", owner=self.name, task=task.get_name(), error=repr(error))

    async def cancel_all(self, timeout: float = 5.0) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

"""Play the demo script against a stack with simulated users, and measure it.

The users connect through the stack's public entry (CloudFront's URL, or the local
edge), chat at a steady rate in several rooms and fetch history now and then, as
people with the web client open would. The script's steps move the traffic through
the same library the commands use (shift, rollback, retire, rollout); each runs in a
worker thread so the users keep chatting while it does.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatops.errors import ChatopsError
from chatops.rehearse.client import SimUser, http_get
from chatops.rehearse.ledger import Figures, Ledger, Window, percentile, windows_between
from chatops.rehearse.script import Plan, Step
from chatops.traffic.capacity import retire, scale
from chatops.traffic.control import TrafficControl
from chatops.traffic.rollout import RolloutFailed, rollout, rollout_steps
from chatops.traffic.weights import Weights

CONNECT_TIMEOUT = 90.0
SETTLE_TIMEOUT = 30.0
SAMPLE_EVERY = 1.0

# Where a rehearsal turns a colour's failure on and off (the local ALB's fault
# injection); None where the target cannot break a colour.
Breaker = Callable[[str, bool], None]


@dataclass(frozen=True)
class Sample:
    at: float
    weights: Weights
    connections: dict[str, int]
    acks_per_second: float
    deliveries_per_second: float
    latency_p50: float | None
    latency_p99: float | None


@dataclass
class Outcome:
    """What one step did beyond moving weights: a drain, an automatic rollback."""

    step: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rehearsal:
    plan: Plan
    url: str
    started: float = 0.0
    ended: float = 0.0
    marks: list[tuple[str, float]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    steps: list[Figures] = field(default_factory=list)
    total: Figures | None = None
    http_errors: int = 0
    failure: str | None = None

    @property
    def ok(self) -> bool:
        total = self.total
        return (
            self.failure is None
            and total is not None
            and total.lost == 0
            and total.duplicates_shown == 0
            and all(not o.detail.get("failed") for o in self.outcomes)
        )


@dataclass(frozen=True)
class Progress:
    step: str
    elapsed: float
    sample: Sample | None
    sent: int
    acknowledged: int


class Runner:
    def __init__(
        self,
        plan: Plan,
        control: TrafficControl,
        url: str,
        *,
        breaker: Breaker | None = None,
        observe: Callable[[Progress], None] = lambda progress: None,
        seed: int = 7,
    ) -> None:
        self.plan = plan
        self.control = control
        self.url = url
        self.breaker = breaker
        self.observe = observe
        self.rng = random.Random(seed)
        self.ledger = Ledger()
        self.rooms = [f"rehearsal-{index}" for index in range(plan.rooms)]
        self.users = [
            SimUser(
                index,
                url,
                [self.rooms[index % plan.rooms]],
                self.ledger,
                rng=random.Random(seed * 100003 + index),
            )
            for index in range(plan.users)
        ]
        self.weights = Weights.all_to(plan.origin)
        self.sending = False
        self.current = "connect"
        self.result = Rehearsal(plan, url)

    # --- preparation -----------------------------------------------------------------

    def prepare(self) -> None:
        """Everything on the origin colour, and the other colour running and healthy."""
        live = self.control.live_weights()
        if live.holder() != self.plan.origin:
            raise ChatopsError(
                f"a rehearsal starts with all traffic on one colour; the listener has {live}",
                f"put it back first: `chatops shift` to {Weights.all_to(self.plan.origin)}",
            )
        health = self.control.colour_health(self.plan.to, with_connections=False)
        if health.desired == 0 or health.healthy == 0:
            scale(self.control, self.plan.to, max(1, health.desired), reason="rehearsal")

    # --- the run ---------------------------------------------------------------------

    async def run(self) -> Rehearsal:
        result = self.result
        user_tasks = [asyncio.create_task(user.run()) for user in self.users]
        background: list[asyncio.Task[None]] = []
        loop = asyncio.get_running_loop()
        result.started = time.monotonic()
        try:
            await self._wait_ready(CONNECT_TIMEOUT)
            self.sending = True
            background = [asyncio.create_task(self._chat(user)) for user in self.users] + [
                asyncio.create_task(self._sample())
            ]
            self.mark("steady")
            await asyncio.sleep(self.plan.step_seconds)
            for step in self.plan.steps:
                self.mark(step.name)
                outcome = await loop.run_in_executor(None, self._perform, step)
                if outcome is not None:
                    result.outcomes.append(outcome)
                await asyncio.sleep(self.plan.step_seconds)
            self.sending = False
            self.mark("settle")
            await self._settle()
        except ChatopsError as error:
            result.failure = error.message
        finally:
            self.sending = False
            result.ended = time.monotonic()
            for task in background:
                task.cancel()
            for user in self.users:
                await user.stop()
            await asyncio.gather(*background, return_exceptions=True)
            await asyncio.wait(user_tasks, timeout=10)
            for task in user_tasks:
                task.cancel()
        windows = windows_between(result.marks, result.ended)
        result.steps = [self.ledger.figures(w, self._connections_at(w.end)) for w in windows]
        result.total = self.ledger.figures(Window("total", result.started, result.ended))
        return result

    def mark(self, name: str) -> None:
        self.current = name
        self.result.marks.append((name, time.monotonic()))

    async def _wait_ready(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(
                asyncio.gather(*(user.ready.wait() for user in self.users)), timeout
            )
        except TimeoutError:
            ready = sum(1 for user in self.users if user.ready.is_set())
            raise ChatopsError(
                f"only {ready} of {len(self.users)} simulated users could connect to "
                f"{self.url} within {timeout:.0f} s",
                "check the stack serves (`chatops status`, `chatops local status`)",
            ) from None

    async def _chat(self, user: SimUser) -> None:
        """One user's messages (a Poisson process) and history fetches."""
        per_second = self.plan.rate / 60
        next_history = time.monotonic() + self.rng.uniform(0, self.plan.history_every)
        while True:
            await asyncio.sleep(user.rng.expovariate(per_second) if per_second else 60)
            await user.retry_overdue()
            if self.sending:
                await user.send(next(iter(user.rooms)))
            if time.monotonic() >= next_history:
                next_history = time.monotonic() + self.plan.history_every
                status = await user.fetch_history()
                if status is not None and status >= 500:
                    self.result.http_errors += 1

    async def _sample(self) -> None:
        last_acks = last_deliveries = 0
        while True:
            await asyncio.sleep(SAMPLE_EVERY)
            now = time.monotonic()
            acks = sum(1 for m in self.ledger.sent.values() if m.acked_at is not None)
            deliveries = sum(len(view) for view in self.ledger.shown.values())
            recent = [v for at, v in self.ledger.latencies if at >= now - SAMPLE_EVERY]
            sample = Sample(
                at=now - self.result.started,
                weights=self.weights,
                connections=self.ledger.connections_by_colour(),
                acks_per_second=(acks - last_acks) / SAMPLE_EVERY,
                deliveries_per_second=(deliveries - last_deliveries) / SAMPLE_EVERY,
                latency_p50=percentile(recent, 50),
                latency_p99=percentile(recent, 99),
            )
            last_acks, last_deliveries = acks, deliveries
            self.result.samples.append(sample)
            self.observe(Progress(self.current, sample.at, sample, len(self.ledger.sent), acks))

    def _connections_at(self, at: float) -> dict[str, int]:
        relative = at - self.result.started
        before = [s for s in self.result.samples if s.at <= relative]
        return dict(before[-1].connections) if before else {"blue": 0, "green": 0}

    async def _settle(self) -> None:
        """Let outboxes empty and every user be connected before counting."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            for user in self.users:
                await user.retry_overdue()
            if all(u.ready.is_set() and not u.outbox for u in self.users):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # deliveries in flight

    # --- steps (worker thread) -----------------------------------------------------------

    def _perform(self, step: Step) -> Outcome | None:
        if step.kind == "shift" and step.weights is not None:
            self.control.shift(step.weights, reason=f"rehearsal: {step.name}")
            self.weights = step.weights
            return None
        if step.kind == "rollback":
            _, shifted = self.control.rollback(reason="rehearsal: rollback")
            self.weights = shifted.after
            return Outcome(step.name, {"seconds": round(shifted.seconds, 3)})
        if step.kind == "retire" and step.colour is not None:
            since = time.monotonic()
            retired = retire(
                self.control, step.colour, reason="rehearsal: retire", timeout=900, poll=1.0
            )
            stopped = time.monotonic()
            users, moved = self.ledger.resumed_before(step.colour, since, stopped)
            return Outcome(
                step.name,
                {
                    "seconds": round(retired.seconds, 1),
                    "users_on_colour": users,
                    "resumed_before_stop": moved,
                    "failed": moved < users,
                },
            )
        if step.kind == "broken-rollout" and step.colour is not None:
            return self._broken_rollout(step)
        raise ValueError(f"unknown step {step}")

    def _broken_rollout(self, step: Step) -> Outcome:
        assert step.colour is not None
        if self.breaker is None:
            raise ChatopsError(
                "this target cannot break a colour on purpose",
                "rehearse a broken release against the local stack (--local)",
            )
        self.breaker(step.colour, True)
        broken_at = time.monotonic()
        detail: dict[str, Any] = {}
        try:
            rollout(
                self.control,
                step.colour,
                rollout_steps(step.colour, [10, 50, 100]),
                bake=max(self.plan.step_seconds, 90.0),
                poll=1.0,
                reason="rehearsal: broken release",
                observe=lambda event: self._follow(event.weights),
            )
            detail = {"rolled_back": False, "failed": True}
        except RolloutFailed as failed:
            detail = {
                "rolled_back": True,
                "seconds_after_fault": round(time.monotonic() - broken_at, 1),
                "reason": failed.message,
                "failed": False,
            }
        finally:
            self.breaker(step.colour, False)
            self.weights = self.control.live_weights()
        return Outcome(step.name, detail)

    def _follow(self, weights: Weights) -> None:
        self.weights = weights


__all__ = ["Breaker", "Outcome", "Progress", "Rehearsal", "Runner", "Sample", "http_get"]

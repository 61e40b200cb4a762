"""The listener: live weights, `shift` and `rollback`, without a Terraform run.

The weights live on the forward action that carries the traffic: the listener's default
action, or in edge-only mode the listener rule that forwards requests carrying the
origin secret (the default action there answers 403, and must stay so).
`shift` changes that action's weights through the ELBv2 API, reads them back,
and records them where Terraform reads them, so the next plan shows no changes.
`rollback` sends everything back to the stable colour in one API call and needs no
Terraform state lock; when target group stickiness is on, the same call turns it off,
so clients pinned to the other colour come back too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions

from chatops.errors import ChatopsError
from chatops.traffic import health
from chatops.traffic.health import AlarmState, ClientFactory, ColourHealth
from chatops.traffic.history import History
from chatops.traffic.records import (
    Endpoints,
    TrafficRecord,
    record_live_variables,
    write_weights_file,
)
from chatops.traffic.weights import COLOURS, Colour, Weights


class ReadBackMismatch(ChatopsError):
    pass


@dataclass(frozen=True)
class ShiftResult:
    before: Weights
    after: Weights
    seconds: float
    stickiness_released: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after or self.stickiness_released


class TrafficControl:
    """Reads and moves one stack's traffic through the AWS APIs (no Terraform)."""

    def __init__(
        self,
        endpoints: Endpoints,
        clients: ClientFactory,
        record_path: Path,
        weights_path: Path,
        history: History | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.clients = clients
        self.record_path = record_path
        self.weights_path = weights_path
        self.history = history or History(record_path.with_name("history.jsonl"), "unknown")

    @property
    def elbv2(self) -> Any:
        return self.clients("elbv2")

    # --- the listener ------------------------------------------------------------------

    def _listener_action(self) -> dict[str, Any]:
        rule = self.endpoints.traffic_rule_arn
        try:
            if rule:
                actions = self.elbv2.describe_rules(RuleArns=[rule])["Rules"][0]["Actions"]
            else:
                listener = self.elbv2.describe_listeners(ListenerArns=[self.endpoints.listener_arn])
                actions = listener["Listeners"][0]["DefaultActions"]
        except botocore.exceptions.ClientError as error:
            raise ChatopsError(
                f"cannot read the {'listener rule' if rule else 'listener'} "
                f"{rule or self.endpoints.listener_arn}: "
                f"{error.response['Error'].get('Message', error)}",
                "is the stack deployed on this target? `chatops status` and `chatops deploy`",
            ) from None
        forward = [a for a in actions if a.get("Type") == "forward"]
        if not forward or "ForwardConfig" not in forward[0]:
            raise ChatopsError(
                f"the {'traffic rule' if rule else 'listener'} does not forward to the blue "
                "and green target groups",
                "redeploy the stack with `chatops deploy` to restore its forward action",
            )
        action: dict[str, Any] = forward[0]
        return action

    def _set_forward(self, forward: dict[str, Any]) -> None:
        """One API call: the rule's actions (its conditions stay), or the listener's."""
        actions = [{"Type": "forward", "ForwardConfig": forward}]
        if self.endpoints.traffic_rule_arn:
            self.elbv2.modify_rule(RuleArn=self.endpoints.traffic_rule_arn, Actions=actions)
        else:
            self.elbv2.modify_listener(
                ListenerArn=self.endpoints.listener_arn, DefaultActions=actions
            )

    def _weights_of(self, action: Mapping[str, Any]) -> Weights:
        by_arn = {
            group["TargetGroupArn"]: int(group.get("Weight", 0))
            for group in action["ForwardConfig"]["TargetGroups"]
        }
        groups = self.endpoints.target_groups
        if set(by_arn) != {groups["blue"], groups["green"]}:
            raise ChatopsError(
                "the listener forwards to other target groups than the stack's blue and green",
                "redeploy the stack with `chatops deploy`",
            )
        return Weights(blue=by_arn[groups["blue"]], green=by_arn[groups["green"]])

    @staticmethod
    def _sticky(action: Mapping[str, Any]) -> bool:
        config = action["ForwardConfig"].get("TargetGroupStickinessConfig") or {}
        return bool(config.get("Enabled"))

    def live_weights(self) -> Weights:
        return self._weights_of(self._listener_action())

    def stickiness_enabled(self) -> bool:
        return self._sticky(self._listener_action())

    def _apply(self, weights: Weights, *, release_stickiness: bool = False) -> tuple[Weights, bool]:
        """Set the forward weights in one ModifyListener (or ModifyRule) call.

        With `release_stickiness`, the same call turns target group stickiness off when
        it is on. Returns the previous weights and whether stickiness was turned off.
        """
        action = self._listener_action()
        before = self._weights_of(action)
        release = release_stickiness and self._sticky(action)
        if before == weights and not release:
            return before, False
        forward = dict(action["ForwardConfig"])
        forward["TargetGroups"] = [
            {"TargetGroupArn": self.endpoints.target_groups[colour], "Weight": weights.of(colour)}
            for colour in COLOURS
        ]
        if release:
            forward["TargetGroupStickinessConfig"] = {
                **forward["TargetGroupStickinessConfig"],
                "Enabled": False,
            }
        self._set_forward(forward)
        confirmed = self._listener_action()
        if self._weights_of(confirmed) != weights or (release and self._sticky(confirmed)):
            raise ReadBackMismatch(
                f"the listener reports {self._weights_of(confirmed)} after setting {weights}",
                "another change may be in flight; check `chatops status` and try again",
            )
        return before, release

    def _record(self, before: Weights, after: Weights, released: bool) -> None:
        record = TrafficRecord.load(self.record_path)
        record.endpoints = self.endpoints
        record.note(before, after)
        record.save(self.record_path)
        write_weights_file(self.weights_path, after)
        if released:
            record_live_variables(self.weights_path, enable_stickiness=False)

    def release_stickiness(self, *, reason: str | None = None) -> bool:
        """Turn target group stickiness off (recorded for Terraform); False if it was off."""
        weights = self.live_weights()
        _, released = self._apply(weights, release_stickiness=True)
        if released:
            record_live_variables(self.weights_path, enable_stickiness=False)
            self.history.record(
                "stickiness-off", {"stickiness": True}, {"stickiness": False}, reason=reason
            )
        return released

    # --- readings ------------------------------------------------------------------------

    def colour_health(self, colour: Colour, *, with_connections: bool = True) -> ColourHealth:
        return health.colour_health(
            self.endpoints, self.clients, colour, with_connections=with_connections
        )

    def require_ready(self, colours: Sequence[Colour]) -> None:
        health.require_ready(self.endpoints, self.clients, colours)

    def alarms(self) -> list[AlarmState]:
        return health.alarms(self.endpoints, self.clients)

    def stable_colour(self) -> Colour:
        return TrafficRecord.load(self.record_path).stable

    # --- commands ------------------------------------------------------------------------

    def shift(
        self,
        weights: Weights,
        *,
        force: bool = False,
        reason: str | None = None,
        action: str = "shift",
    ) -> ShiftResult:
        started = time.monotonic()
        if not force:
            self.require_ready([colour for colour in COLOURS if weights.of(colour) > 0])
        before, _ = self._apply(weights)
        self._record(before, weights, released=False)
        if before != weights:
            self.history.record(action, before.as_dict(), weights.as_dict(), reason=reason)
        return ShiftResult(before=before, after=weights, seconds=time.monotonic() - started)

    def rollback(
        self, *, reason: str | None = None, automatic: bool = False
    ) -> tuple[Colour, ShiftResult]:
        """All traffic to the stable colour: one ModifyListener call, no health gate.

        Stickiness, when on, is turned off in the same call: clients pinned to the other
        colour must come back too.
        """
        started = time.monotonic()
        stable = self.stable_colour()
        target = Weights.all_to(stable)
        before, released = self._apply(target, release_stickiness=True)
        self._record(before, target, released)
        result = ShiftResult(
            before=before,
            after=target,
            seconds=time.monotonic() - started,
            stickiness_released=released,
        )
        if result.changed or automatic:
            self.history.record(
                "auto-rollback" if automatic else "rollback",
                {**before.as_dict(), **({"stickiness": True} if released else {})},
                {**target.as_dict(), **({"stickiness": False} if released else {})},
                colour=stable,
                reason=reason,
            )
        return stable, result

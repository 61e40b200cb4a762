"""`chatops status`: live weights, health, tasks, connections and alarms, and drift."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatops.traffic.control import TrafficControl
from chatops.traffic.health import AlarmState, ColourHealth
from chatops.traffic.weights import COLOURS, Colour, Weights


@dataclass(frozen=True)
class StatusReport:
    target: str
    live: Weights
    configured: Weights | None
    stable: Colour
    stickiness: bool
    colours: Mapping[str, ColourHealth]
    alarms: Sequence[AlarmState]
    reconcile_command: str | None

    @property
    def drift(self) -> bool:
        return self.configured is not None and self.configured != self.live

    @property
    def firing(self) -> list[AlarmState]:
        return [alarm for alarm in self.alarms if alarm.state == "ALARM"]

    def to_json(self) -> dict[str, Any]:
        """The documented `chatops status --json` schema (README, "Status JSON")."""
        return {
            "target": self.target,
            "weights": self.live.as_dict(),
            "configured_weights": self.configured.as_dict() if self.configured else None,
            "drift": self.drift,
            "reconcile": self.reconcile_command if self.drift else None,
            "stable": self.stable,
            "stickiness": self.stickiness,
            "colours": {
                colour: {
                    "weight": self.live.of(colour),
                    "targets": {
                        "healthy": health.healthy,
                        "unhealthy": health.unhealthy,
                        "draining": health.draining,
                        "initial": health.initial,
                        "other": health.other,
                        "total": health.targets,
                    },
                    "tasks": {
                        "running": health.running,
                        "desired": health.desired,
                        "pending": health.pending,
                    },
                    "connections": health.connections,
                    "image": health.image,
                    "version": health.version,
                    "task_definition": health.task_definition,
                }
                for colour, health in ((c, self.colours[c]) for c in COLOURS)
            },
            "alarms": [
                {"key": a.key, "name": a.name, "colour": a.colour, "state": a.state}
                for a in self.alarms
            ],
            "alarms_firing": [a.name for a in self.firing],
        }


def status(
    control: TrafficControl, configured: Weights | None, target: str, shift_command: str
) -> StatusReport:
    live = control.live_weights()
    reconcile = f"{shift_command} {configured.blue} {configured.green}" if configured else None
    return StatusReport(
        target=target,
        live=live,
        configured=configured,
        stable=control.stable_colour(),
        stickiness=control.stickiness_enabled(),
        colours={colour: control.colour_health(colour) for colour in COLOURS},
        alarms=control.alarms(),
        reconcile_command=reconcile,
    )

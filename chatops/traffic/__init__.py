"""Traffic between blue and green: weights, rollouts, capacity, status and history.

One module per concern, each named for the command it serves:

- `weights`: colours and listener weights;
- `records`: what chatops remembers (stable colour, endpoints) and records for
  Terraform (the live variables file);
- `control`: the listener itself: `shift`, `rollback`;
- `rollout`: progressive shifts with automatic rollback;
- `capacity`: `scale` and `retire`;
- `health`: targets, tasks, open WebSockets and alarms per colour;
- `status`: `chatops status`;
- `history`: who moved what, when and why (`chatops history`).
"""

from chatops.traffic.capacity import (
    CapacityEvent,
    DrainIncomplete,
    ScaleResult,
    parse_count,
    retire,
    scale,
)
from chatops.traffic.control import ReadBackMismatch, ShiftResult, TrafficControl
from chatops.traffic.health import AlarmState, ColourHealth, UnhealthyColour
from chatops.traffic.history import Entry, History
from chatops.traffic.records import (
    LIVE_VARIABLES,
    RECORDED_BY,
    Endpoints,
    TrafficRecord,
    read_live_variables,
    read_weights_file,
    record_live_variables,
    write_weights_file,
)
from chatops.traffic.rollout import (
    RolloutEvent,
    RolloutFailed,
    parse_steps,
    rollout,
    rollout_steps,
)
from chatops.traffic.status import StatusReport, status
from chatops.traffic.weights import COLOURS, Colour, Weights, other, parse_colour

__all__ = [
    "COLOURS",
    "LIVE_VARIABLES",
    "RECORDED_BY",
    "AlarmState",
    "CapacityEvent",
    "Colour",
    "ColourHealth",
    "DrainIncomplete",
    "Endpoints",
    "Entry",
    "History",
    "ReadBackMismatch",
    "RolloutEvent",
    "RolloutFailed",
    "ScaleResult",
    "ShiftResult",
    "StatusReport",
    "TrafficControl",
    "TrafficRecord",
    "UnhealthyColour",
    "Weights",
    "other",
    "parse_colour",
    "parse_count",
    "parse_steps",
    "read_live_variables",
    "read_weights_file",
    "record_live_variables",
    "retire",
    "rollout",
    "rollout_steps",
    "scale",
    "status",
    "write_weights_file",
]

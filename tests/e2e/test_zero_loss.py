"""Zero-loss colour changes on the local stack: real alarms and a fast rehearsal.

Runs after the other traffic modules (which leave all traffic on blue) and before
test_zz_destroy.py: a broken green must roll itself back for a real reason (an alarm fed
by the local ALB's metrics), then a rehearsal with simulated users shifts everything to
green and retires blue without losing a message.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e


def keep_requesting(url: str, stop: threading.Event, statuses: list[int]) -> None:
    """Requests without cookies, so each is routed by weight, as new visitors are."""
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
        except OSError:
            statuses.append(0)
        time.sleep(0.1)


def firing(stack: LocalStack) -> list[str]:
    alarms: list[str] = json.loads(stack.cli("status", "--local", "--json").stdout)["alarms_firing"]
    return alarms


def test_a_broken_green_rolls_itself_back_naming_the_alarm(stack: LocalStack) -> None:
    assert stack.cli("shift", "--local", "100", "0").returncode == 0
    # Earlier modules kill and fail tasks on purpose: let their alarms clear first.
    deadline = time.monotonic() + 180
    while firing(stack) and time.monotonic() < deadline:
        time.sleep(5)
    assert firing(stack) == []
    fault = stack.cli("local", "fault", "green", "--http-5xx", "100", "--json")
    assert fault.returncode == 0, fault.stderr
    assert json.loads(fault.stdout)["http_5xx_percent"] == 100
    stop, statuses = threading.Event(), []
    visitor = threading.Thread(
        target=keep_requesting, args=(stack.alb_url + "api/info", stop, statuses), daemon=True
    )
    visitor.start()
    started = time.monotonic()
    try:
        rollout = stack.cli(
            "rollout", "--local", "--to", "green", "--steps", "50", "--bake", "150", "--poll", "1"
        )
    finally:
        stop.set()
        visitor.join(timeout=10)
        cleared = stack.cli("local", "fault", "green", "--clear")
    print(f"rolled back {time.monotonic() - started:.0f} s after the fault")
    assert cleared.returncode == 0, cleared.stderr
    assert rollout.returncode == 1, rollout.stdout + rollout.stderr
    assert "chatapp-dev-target-5xx-green" in rollout.stderr
    assert "traffic rolled back to blue" in rollout.stderr
    assert 500 in statuses and 200 in statuses  # green failed, blue served
    status = json.loads(stack.cli("status", "--local", "--json").stdout)
    assert status["weights"] == {"blue": 100, "green": 0}
    assert "chatapp-dev-target-5xx-green" in status["alarms_firing"]
    history = json.loads(stack.cli("history", "--local", "--json").stdout)
    last = history[-1]
    assert last["action"] == "auto-rollback" and last["colour"] == "blue"
    assert "chatapp-dev-target-5xx-green" in last["reason"]


def test_a_fast_rehearsal_moves_everyone_to_green_and_loses_nothing(stack: LocalStack) -> None:
    result = stack.cli(
        "rehearse", "--local", "--users", "50", "--rooms", "5", "--fast", "--json", timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    total = report["total"]
    print(json.dumps({k: total[k] for k in ("sent", "lost", "latency_ms", "reconnect_ms")}))
    assert report["ok"] is True
    assert total["sent"] > 0 and total["acknowledged"] == total["sent"]
    assert total["lost"] == 0 and total["duplicates_shown"] == 0
    shifts = [s for s in report["steps"] if "/" in s["name"]]
    assert [s["name"] for s in shifts] == ["90/10", "50/50", "10/90", "0/100"]
    assert all(s["unexpected_disconnects"] == 0 for s in report["steps"])
    (retired,) = [o for o in report["outcomes"] if o["step"] == "retire blue"]
    assert retired["users_on_colour"] == 50 and retired["resumed_before_stop"] == 50
    assert report["steps"][-1]["connections"] == {"blue": 0, "green": 50}
    with open(report["report"]) as page:
        assert "PASS: nothing lost" in page.read()
    # Everything the rehearsal changed is recorded for Terraform: nothing to plan.
    status = json.loads(stack.cli("status", "--local", "--json").stdout)
    assert status["weights"] == {"blue": 0, "green": 100}
    assert status["colours"]["blue"]["tasks"]["desired"] == 0
    assert stack.cli("plan", "--local").returncode == 0

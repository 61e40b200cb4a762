"""EC2: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

from typing import Any

from moto.ec2.models import security_groups as security_group_models

from chatops.emulator.patches.registry import Patch, Revert, replace


def _install_referenced_rule_description() -> Revert:
    cls = security_group_models.SecurityGroupRule

    def description(self: Any) -> str | None:
        value = self.ip_range.get("Description") or self.source_group.get("Description")
        return str(value) if value else None

    return replace(cls, "description", property(description))


PATCHES: tuple[Patch, ...] = (
    Patch(
        "ec2-referenced-rule-description",
        "Security group rules that reference another group lose their Description: every "
        "plan re-adds it.",
        _install_referenced_rule_description,
    ),
)

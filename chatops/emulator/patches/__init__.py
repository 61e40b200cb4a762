"""Patches for moto 5.2 against hashicorp/aws 5.100, one module per AWS service.

Each patch closes one gap found by applying this stack's root module to moto: without
it an apply fails, a destroy hangs, or the plan after an apply is not empty. They are
applied in the emulator process before it serves (``apply_all``) and can be applied
and reverted one at a time (``patched``) so tests can show each gap and its fix.

A service's patches sit beside the data plane role that serves the same service:
``patches/elbv2.py`` next to ``dataplane/alb.py``, ``patches/ecs.py`` next to
``dataplane/ecs.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chatops.emulator.patches import (
    budgets,
    cloudfront,
    cloudwatch,
    dynamodb,
    ec2,
    ecs,
    elasticache,
    elbv2,
    iam,
    s3,
    servicequotas,
    sts,
)
from chatops.emulator.patches.registry import PRIVATE_ENDPOINTS, Patch, Revert

__all__ = ["PATCHES", "PRIVATE_ENDPOINTS", "Patch", "apply_all", "patched", "revert_all"]

PATCHES: tuple[Patch, ...] = (
    *elasticache.PATCHES,
    *ec2.PATCHES,
    *cloudfront.PATCHES,
    *iam.PATCHES,
    *sts.PATCHES,
    *s3.PATCHES,
    *elbv2.PATCHES,
    *ecs.PATCHES,
    *budgets.PATCHES,
    *cloudwatch.PATCHES,
    *dynamodb.PATCHES,
    *servicequotas.PATCHES,
)

_installed: dict[str, Revert] = {}


def apply_all() -> None:
    """Install every patch the emulator process needs, if not installed yet."""
    for patch in PATCHES:
        if patch.emulator and patch.name not in _installed:
            _installed[patch.name] = patch.install()


def revert_all() -> None:
    for name in reversed(list(_installed)):
        _installed.pop(name)()


@contextmanager
def patched(*, without: tuple[str, ...] = ()) -> Iterator[None]:
    """Install every patch except those named in `without` for the duration of the block."""
    unknown = set(without) - {patch.name for patch in PATCHES}
    if unknown:
        raise ValueError(f"unknown patches: {sorted(unknown)}")
    installed_before = dict(_installed)
    revert_all()
    try:
        for patch in PATCHES:
            if patch.name not in without:
                _installed[patch.name] = patch.install()
        yield
    finally:
        revert_all()
        for name in installed_before:
            _installed[name] = next(p for p in PATCHES if p.name == name).install()

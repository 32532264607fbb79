"""Training phases and their learning-rate schedules, expressed for one optimiser and one scheduler.

MobileNetV2 trains in two phases (head with a frozen backbone, then the top blocks at a lower rate).
Keeping one optimiser with a parameter group per part, and one ``LambdaLR`` whose per-group factor
depends on the phase, means one ``accelerator.prepare`` and checkpoints that restore both phases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Phase:
    name: str
    epochs: int
    group_lrs: dict[str, float]
    """Peak learning rate of each parameter group in this phase (0 = frozen)."""
    trainable_groups: tuple[str, ...] = field(default=())


def phase_factor(step: int, total: int, warmup: int, kind: str) -> float:
    """Multiplier in [0, 1] at ``step`` of a phase of ``total`` steps: linear warm-up, then cosine/linear/constant."""
    if total <= 0:
        return 0.0
    if warmup and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def group_lambdas(
    phases: list[Phase],
    group_names: list[str],
    base_lrs: dict[str, float],
    steps_per_epoch: int,
    warmup_steps: int | None,
    kind: str,
    ticks_per_step: int = 1,
):
    """One ``LambdaLR`` function per parameter group.

    ``ticks_per_step``: accelerate's prepared scheduler ticks once per process for each optimiser
    step (when batches are not split), so the horizon is counted in ticks.
    """
    bounds = []
    start = 0
    for phase in phases:
        steps = phase.epochs * steps_per_epoch
        warmup = warmup_steps if warmup_steps is not None else max(1, round(0.05 * steps))
        bounds.append((start, steps, min(warmup, steps), phase))
        start += steps

    def make(group: str):
        def factor(tick: int) -> float:
            step = tick // ticks_per_step
            for phase_start, steps, warmup, phase in bounds:
                if step < phase_start + steps:
                    peak = phase.group_lrs.get(group, 0.0)
                    return peak / base_lrs[group] * phase_factor(step - phase_start, steps, warmup, kind)
            return 0.0

        return factor

    return [make(group) for group in group_names]


def phase_at_epoch(phases: list[Phase], epoch: int) -> tuple[int, Phase]:
    """Index and phase that epoch ``epoch`` (0-based, counted across phases) belongs to."""
    start = 0
    for index, phase in enumerate(phases):
        if epoch < start + phase.epochs:
            return index, phase
        start += phase.epochs
    return len(phases) - 1, phases[-1]

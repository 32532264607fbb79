"""Timers, memory and machine description: the measuring tools every benchmark shares.

Latency is reported as percentiles over many single calls after a warm-up (the first calls pay
for lazy initialisation, allocator growth and caches); throughput as images over total seconds.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    mean_ms: float
    runs: int

    def as_dict(self) -> dict:
        return asdict(self)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: it is one of the measured values)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def measure_latency(call: Callable[[int], object], runs: int, warmup: int) -> Latency:
    """Time ``call(i)`` ``runs`` times after ``warmup`` untimed calls; ``i`` lets callers vary the input."""
    for i in range(warmup):
        call(i)
    timings = []
    for i in range(runs):
        start = time.perf_counter()
        call(i)
        timings.append((time.perf_counter() - start) * 1000.0)
    return Latency(
        p50_ms=round(percentile(timings, 0.50), 4),
        p95_ms=round(percentile(timings, 0.95), 4),
        mean_ms=round(statistics.fmean(timings), 4),
        runs=runs,
    )


def measure_throughput(call: Callable[[int], object], items_per_call: int, runs: int, warmup: int) -> float:
    """Items per second over ``runs`` calls of ``call(i)`` after ``warmup`` untimed calls."""
    for i in range(warmup):
        call(i)
    start = time.perf_counter()
    for i in range(runs):
        call(i)
    seconds = time.perf_counter() - start
    return round(items_per_call * runs / seconds, 1)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024, 1)


def current_rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / (1024 * 1024), 1)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str) -> dict:
    """What the numbers depend on: CPU, cores, memory, library versions, threads, accelerator."""
    import psutil
    import torch

    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info

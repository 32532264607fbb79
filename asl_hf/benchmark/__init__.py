"""Speed, memory and accuracy benchmarks of the trained models (``scripts/benchmark.py``).

- :mod:`.measure`: timers (percentile latency, throughput), peak RSS, machine description;
- :mod:`asl_hf.preprocessing`: the lean preprocessing path (used by inference too), checked against the model's own processor;
- :mod:`.fast_paths`: eager, channels_last, torch.compile, ONNX Runtime fp32/int8 forward passes;
- :mod:`.latency`: batch-1 latency, batch throughput and each path's test accuracy;
- :mod:`.training`: training loop vs compute-only throughput, data pipeline vs plain decode;
- :mod:`.runner`: one child process per model; :mod:`.report`: markdown tables.
"""

from ..inference.lean import LeanPreprocessor, matching_lean_preprocessor
from .fast_paths import CPU_PATHS, GPU_PATHS
from .report import format_markdown
from .runner import DEFAULT_DATASET_DIR, BenchmarkOptions, run_benchmark

__all__ = [
    "CPU_PATHS",
    "DEFAULT_DATASET_DIR",
    "GPU_PATHS",
    "BenchmarkOptions",
    "LeanPreprocessor",
    "format_markdown",
    "matching_lean_preprocessor",
    "run_benchmark",
]

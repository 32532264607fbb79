"""ONNX Runtime for the pixel models: the export (end of training, the benchmark) and the session inference runs.

At batch 1 on a CPU, ONNX Runtime runs the CNN in about half the time of eager PyTorch and MobileNetV2 in about half
too (``docs/benchmarks.md``). Training writes ``model.onnx`` beside the weights; :func:`checked_session` opens it only
when its logits match the eager model's on probe inputs, so a stale file (weights retrained, ONNX not) is never used.
The hand-landmark model has no ONNX file: its MLP takes a fraction of a millisecond next to MediaPipe's detection.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

ONNX_FILE = "model.onnx"
INPUT_NAME, OUTPUT_NAME = "pixel_values", "logits"
MATCH_ATOL = 1e-4
"""Largest |probability difference| from eager PyTorch on probe inputs for the file to count as the same model: the
two runtimes' float32 kernels differ by ~1e-6 in probability; other weights differ by far more."""


def onnxruntime_problem() -> str | None:
    """Why ONNX Runtime cannot run here (one line), or None."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError as error:
        return f"onnxruntime is not installed: {error}"
    return None


class LogitsModel(nn.Module):
    """Wrap a transformers (``pixel_values=`` -> output.logits) or timm (tensor -> tensor) model as tensor -> logits:
    the one signature the exporter, ONNX Runtime and the benchmark's paths share."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.keyword = "pixel_values" in inspect.signature(model.forward).parameters

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        output = self.model(pixel_values=pixel_values) if self.keyword else self.model(pixel_values)
        return output.logits if hasattr(output, "logits") else output


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | os.PathLike) -> str:
    """Export ``model`` (eval mode, CPU) with a dynamic batch axis, ``pixel_values`` in, ``logits`` out: the dynamo
    exporter first, the TorchScript one if that fails. Returns which exporter wrote the file."""
    model = model if isinstance(model, LogitsModel) else LogitsModel(model)
    kwargs = {"input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME]}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example,), str(path), dynamo=True, external_data=False,
                              dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},), verbose=False, **kwargs)
        return "dynamo"
    except Exception:  # noqa: BLE001 - any dynamo exporter failure: fall back to the older exporter
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example,), str(path), dynamo=False,
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}, **kwargs)
        return "torchscript"


def ort_session(path: str | os.PathLike, threads: int | None = None):
    """An ONNX Runtime CPU session with every graph optimisation, ``threads`` intra-op threads (default: torch's, so
    a server that limits torch's threads per request limits these too) and only its errors logged."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxLogits:
    """A session as a function: ``pixel_values`` (float32 CPU tensor) -> float32 logits tensor."""

    def __init__(self, session, path: str | os.PathLike):
        self.session = session
        self.path = str(path)

    def __call__(self, pixel_values: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(pixel_values.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run([OUTPUT_NAME], {INPUT_NAME: array})[0])


def probability_difference(first: torch.Tensor, second: torch.Tensor) -> float:
    """Largest |difference| between the softmax probabilities of two logits tensors; inf for other shapes."""
    if first.shape != second.shape:
        return float("inf")
    return float((first.float().softmax(-1) - second.float().softmax(-1)).abs().max())


def checked_session(path: str | os.PathLike, model: nn.Module, probe: torch.Tensor) -> tuple[OnnxLogits | None, str]:
    """``(session, "")`` when ``path`` opens in ONNX Runtime and gives the eager model's logits on ``probe`` (a batch
    of the model's real inputs), else ``(None, one-line reason)``."""
    problem = onnxruntime_problem()
    if problem:
        return None, problem
    try:
        onnx = OnnxLogits(ort_session(path), path)
        got = onnx(probe)
    except Exception as error:  # noqa: BLE001 - a file ONNX Runtime cannot open or run: say why, run eager
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, f"{Path(path).name} cannot be run by ONNX Runtime: {first[:200]}"
    with torch.inference_mode():
        expected = LogitsModel(model).eval()(probe.to(next(model.parameters()).device)).float().cpu()
    difference = probability_difference(expected, got)
    if not difference <= MATCH_ATOL:
        return None, f"{Path(path).name} does not match the weights: probabilities differ by {difference:.2g} on probe images; re-export it"
    return onnx, ""


__all__ = [
    "INPUT_NAME", "MATCH_ATOL", "ONNX_FILE", "OUTPUT_NAME", "LogitsModel", "OnnxLogits", "checked_session", "export_onnx",
    "onnxruntime_problem", "ort_session", "probability_difference",
]

"""Ways to run one model's forward pass: eager PyTorch and the faster CPU/GPU paths we compare it with.

Every path takes a normalised float batch ``(N, 3, H, W)`` and returns float32 logits, so the
benchmark can time them the same way and check each against eager on the test split. The ONNX export and session are
the product's own (:mod:`asl_hf.inference.onnx_runtime`): what is measured here is what inference runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..inference.onnx_runtime import LogitsModel, export_onnx, ort_session

CPU_PATHS = ("eager", "channels_last", "compile", "onnxruntime", "onnxruntime_int8")
GPU_PATHS = ("eager", "channels_last_bf16")


@dataclass
class ForwardPath:
    name: str
    run: Callable[[torch.Tensor], torch.Tensor]
    notes: dict = field(default_factory=dict)


def _eager(model: nn.Module, device: str) -> ForwardPath:
    @torch.inference_mode()
    def run(batch: torch.Tensor) -> torch.Tensor:
        return model(batch.to(device)).float().cpu()

    return ForwardPath("eager", run)


def _channels_last(model: nn.Module, device: str, bf16: bool = False) -> ForwardPath:
    fast = _copy(model).to(memory_format=torch.channels_last)
    autocast = torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    @torch.inference_mode()
    def run(batch: torch.Tensor) -> torch.Tensor:
        with autocast:
            return fast(batch.to(device).contiguous(memory_format=torch.channels_last)).float().cpu()

    return ForwardPath("channels_last_bf16" if bf16 else "channels_last", run)


def _compile(model: nn.Module, device: str) -> ForwardPath:
    """Inductor, one graph per batch size (``dynamic=False``: batch 1 and 64 get their own kernels)."""
    compiled = torch.compile(_copy(model), dynamic=False)

    @torch.inference_mode()
    def run(batch: torch.Tensor) -> torch.Tensor:
        return compiled(batch.to(device)).float().cpu()

    return ForwardPath("compile", run, {"backend": "inductor"})


def _ort_path(name: str, path: Path, threads: int, notes: dict) -> ForwardPath:
    session = ort_session(path, threads)

    def run(batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(["logits"], {"pixel_values": batch.numpy()})[0])

    return ForwardPath(name, run, notes)


def _quantize_static(source: Path, target: Path, calibration: torch.Tensor) -> None:
    """ONNX Runtime static int8 (QDQ, per-channel weights) calibrated on training images."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"pixel_values": calibration[i : i + 16].numpy()} for i in range(0, len(calibration), 16)])

        def get_next(self):
            return next(self.batches, None)

    prepared = target.with_name("model.pre.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def _copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model)


def build_paths(
    model: nn.Module,
    names: list[str],
    device: str,
    example: torch.Tensor,
    workdir: Path,
    calibration: torch.Tensor | None = None,
) -> tuple[list[ForwardPath], dict[str, str]]:
    """The requested paths that could be built, and why the others could not (name -> one-line reason)."""
    model = LogitsModel(model).eval().to(device)
    paths, failed = [], {}
    onnx_file, onnx_notes = workdir / "model.onnx", {}
    for name in names:
        try:
            if name == "eager":
                paths.append(_eager(model, device))
            elif name == "channels_last":
                paths.append(_channels_last(model, device))
            elif name == "channels_last_bf16":
                paths.append(_channels_last(model, device, bf16=True))
            elif name == "compile":
                paths.append(_compile(model, device))
            elif name in ("onnxruntime", "onnxruntime_int8"):
                if device != "cpu":
                    raise ValueError("ONNX Runtime paths are measured on CPU only")
                if not onnx_file.exists():
                    onnx_notes = {"exporter": export_onnx(model.cpu(), example.cpu(), onnx_file)}
                threads = torch.get_num_threads()
                if name == "onnxruntime":
                    paths.append(_ort_path(name, onnx_file, threads, dict(onnx_notes)))
                else:
                    if calibration is None:
                        raise ValueError("int8 needs calibration images")
                    int8_file = workdir / "model.int8.onnx"
                    _quantize_static(onnx_file, int8_file, calibration)
                    paths.append(_ort_path(name, int8_file, threads, {**onnx_notes, "quantization": "static QDQ int8, per-channel"}))
            else:
                raise ValueError(f"unknown path {name!r}")
        except Exception as error:  # noqa: BLE001 - a path that cannot be built is reported, not fatal
            failed[name] = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
    return paths, failed


__all__ = ["CPU_PATHS", "GPU_PATHS", "LogitsModel", "ForwardPath", "build_paths", "export_onnx"]

"""``model.onnx`` at the end of training, checked on the run's own test photos before anyone runs it.

Training calls :func:`export_trained_model` on its output folder: a pixel model (CNN, MobileNetV2) is exported with
:func:`~asl_hf.inference.onnx_runtime.export_onnx`, then the saved eager model and the ONNX file classify every test
photo of the run through the same preprocessing. The file stays only if the top-1 label is the same on every photo;
``onnx_export.json`` records the exporter, the agreement and the largest probability difference (or why there is no
file). A failed export never fails the training run: inference then runs eager PyTorch, as it says.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch

from .onnx_runtime import ONNX_FILE, checked_session, export_onnx, onnxruntime_problem

EXPORT_REPORT = "onnx_export.json"
CHECK_BATCH_SIZE = 64


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def image_batches(images, batch_size: int = CHECK_BATCH_SIZE) -> Iterator[list]:
    """``images`` (a list of PIL images, or a ``datasets`` split with an ``image`` column, decoded a batch at a time so
    a large test split never sits in memory) in lists of ``batch_size``."""
    if images is None:
        return
    is_split = hasattr(images, "column_names")
    if is_split and "image" not in images.column_names:
        return
    for start in range(0, len(images), batch_size):
        yield images[start : start + batch_size]["image"] if is_split else list(images[start : start + batch_size])


def compare_on_images(classifier, onnx, batches: Iterable[list]) -> dict:
    """Eager vs ONNX probabilities of the images through the classifier's preprocessing: how many top-1 labels agree,
    the largest |probability difference| and the largest |logit difference|."""
    count, agree, probability_difference, logit_difference = 0, 0, 0.0, 0.0
    with torch.inference_mode():
        for batch in batches:
            pixels = classifier.pixel_inputs(classifier._images(batch))["pixel_values"]
            eager = classifier.model(pixel_values=pixels).logits.float().cpu()
            exported = onnx(pixels)
            count += len(batch)
            agree += int((eager.argmax(-1) == exported.argmax(-1)).sum())
            probability_difference = max(probability_difference, float((eager.softmax(-1) - exported.softmax(-1)).abs().max()))
            logit_difference = max(logit_difference, float((eager - exported).abs().max()))
    return {"test_images": count, "top1_agreement": agree, "max_probability_difference": probability_difference,
            "max_logit_difference": logit_difference}


def _export_and_check(classifier, folder: Path, images) -> dict:
    """Export, open with ONNX Runtime, compare on ``images``; the file is removed unless every top-1 label agrees."""
    from .lean import probe_images

    path = folder / ONNX_FILE
    probe = classifier.pixel_inputs(probe_images())["pixel_values"]
    exporter = export_onnx(classifier.model.cpu().eval(), probe[:1], path)
    onnx, reason = checked_session(path, classifier.model, probe)
    if onnx is None:
        path.unlink(missing_ok=True)
        return {"exported": False, "exporter": exporter, "reason": reason}
    report = {"exported": True, "file": ONNX_FILE, "exporter": exporter, "onnx_bytes": path.stat().st_size,
              **compare_on_images(classifier, onnx, image_batches(images))}
    if report["top1_agreement"] != report["test_images"]:
        path.unlink()
        report.update(exported=False, reason=f"the top-1 label differs from eager PyTorch on "
                                             f"{report['test_images'] - report['top1_agreement']} test photos; file removed")
    return report


def export_trained_model(output_dir: str | os.PathLike, test_images=None, say: Callable[[str], None] = print) -> dict:
    """Write ``model.onnx`` (pixel models) and ``onnx_export.json`` into a saved model folder, checked on
    ``test_images`` (PIL images, or a ``datasets`` split with an ``image`` column: the run's test photos). Prints one
    line with ``say`` and returns the report; never raises for an export problem (the report says what went wrong)."""
    from .loading import load_classifier

    folder = Path(output_dir)
    started = time.perf_counter()
    classifier = load_classifier(folder, device="cpu", runtime="eager")
    if classifier.detects_hands:
        report = {"exported": False, "reason": "the hand-landmark MLP is not exported: it takes a fraction of a millisecond "
                                               "next to MediaPipe"}
    elif onnxruntime_problem():
        report = {"exported": False, "reason": onnxruntime_problem()}
    else:
        try:
            report = _export_and_check(classifier, folder, test_images)
        except Exception as error:  # noqa: BLE001 - the trained model is fine without it; say why there is no file
            (folder / ONNX_FILE).unlink(missing_ok=True)
            report = {"exported": False, "reason": f"export failed: {type(error).__name__}: {_first_line(error)}"}
    report["seconds"] = round(time.perf_counter() - started, 2)
    (folder / EXPORT_REPORT).write_text(json.dumps(report, indent=2) + "\n")
    if report["exported"]:
        say(f"Exported {ONNX_FILE} ({report['exporter']} exporter): same top-1 as PyTorch on all {report['test_images']} test "
            f"photos, largest probability difference {report['max_probability_difference']:.2g}")
    elif not classifier.detects_hands:
        say(f"No {ONNX_FILE}: {report['reason']} (inference runs eager PyTorch)")
    return report


__all__ = ["EXPORT_REPORT", "compare_on_images", "export_trained_model", "image_batches"]

"""What a trained model reports about itself, and which of several models to show first.

A local model folder carries the files training and ``scripts/evaluate_model.py`` write (``eval_results.json``,
``dataset_info.json``, ``eval_<data>/evaluation_report.json``); a Hub model carries the same numbers in its card's
``model-index`` (written by :mod:`asl_hf.hub.model_card`). Both are read into one :class:`ReportedScores`, so local
folders and Hub repos are described and ranked the same way. Accuracy on photos of other signers says how a model does
on a stranger's hand, so it ranks the models when every one of them reports it on the same folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

OTHER_SIGNERS_HINT = "other_signers"
"""A folder whose name holds this is preferred for ranking: photos of people the models never saw."""


@dataclass
class ReportedScores:
    """A model's own numbers: accuracy and macro-F1 on its test (else validation) split, and on other folders."""

    accuracy: float | None = None
    macro_f1: float | None = None
    split: str | None = None
    """``"test"``, ``"validation"`` or ``"reported"`` (a card without split names)."""
    data: str = ""
    """Which data and split the numbers are on, in words (from ``dataset_info.json``), or ""."""
    other_sets: dict[str, float] = field(default_factory=dict)
    """``{data name: accuracy}`` on other labelled folders (e.g. ``other_signers_dev``)."""
    calibration_error: dict[str, float] = field(default_factory=dict)
    """``{data name: expected calibration error}`` where reported."""


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def extra_evaluations(folder: str | os.PathLike) -> list[dict]:
    """The ``evaluation_report.json`` files ``scripts/evaluate_model.py`` writes into ``eval_<data>/`` of a model folder."""
    reports = [_read_json(path) for path in sorted(Path(folder).glob("eval_*/evaluation_report.json"))]
    return [report for report in reports if isinstance(report, dict)]


def _report_name(report: dict) -> str:
    return str(report.get("split_name") or Path(str(report.get("data") or "")).name)


def data_description(folder: Path) -> str:
    """Which data and split a folder's reported numbers are on (from ``dataset_info.json``), or ""."""
    info = _read_json(folder / "dataset_info.json")
    if not isinstance(info, dict):
        return ""
    dirs = info.get("train_dirs") or [info.get("train_dir") or info.get("dataset_dir") or ""]
    source = info.get("dataset_name") or " + ".join(Path(str(d)).name for d in dirs if d)
    split = {"group": "grouped split", "random": "random split"}.get(info.get("split_by"), "")
    return ", ".join(part for part in (f"`{source}`" if source else "", split, f"{info.get('num_test')} test images") if part)


def scores_from_folder(folder: str | os.PathLike) -> ReportedScores:
    """:class:`ReportedScores` from the files beside a local model's weights."""
    folder = Path(folder)
    scores = ReportedScores()
    for file_name in ("eval_results.json", "all_results.json"):
        results = _read_json(folder / file_name)
        if not isinstance(results, dict):
            continue
        for prefix, split in (("test", "test"), ("eval", "validation")):
            if f"{prefix}_accuracy" in results:
                scores = ReportedScores(results[f"{prefix}_accuracy"], results.get(f"{prefix}_macro_f1"), split, data_description(folder))
                break
        if scores.accuracy is not None:
            break
    for report in extra_evaluations(folder):
        name = _report_name(report)
        if name and isinstance(report.get("accuracy"), (int, float)):
            scores.other_sets[name] = float(report["accuracy"])
        if name and isinstance(report.get("expected_calibration_error"), (int, float)):
            scores.calibration_error[name] = float(report["expected_calibration_error"])
    return scores


def scores_from_eval_results(results: list) -> ReportedScores:
    """:class:`ReportedScores` from a card's parsed ``EvalResult`` entries: the first entry's data set is the one the
    model was trained on (its test, else validation, scores); entries on other data sets are other folders."""
    if not results:
        return ReportedScores()
    main_name = results[0].dataset_name
    main = [r for r in results if r.dataset_name == main_name and r.dataset_config in (None, "default")]  # not per source
    scores = ReportedScores()
    for split in ("test", "validation", None):
        found = {r.metric_type: r.metric_value for r in main if split is None or r.dataset_split == split}
        if "accuracy" in found:
            scores = ReportedScores(found["accuracy"], found.get("f1"), split or "reported")
            break
    for r in results:
        if r.dataset_name != main_name and r.dataset_name and r.metric_type == "accuracy":
            scores.other_sets.setdefault(str(r.dataset_name), float(r.metric_value))
        if r.dataset_name != main_name and r.dataset_name and r.metric_type == "expected_calibration_error":
            scores.calibration_error.setdefault(str(r.dataset_name), float(r.metric_value))
    return scores


def scores_from_card(repo_id: str) -> ReportedScores:
    """:class:`ReportedScores` from a Hub model's card (nothing when the Hub or the card cannot be read)."""
    from huggingface_hub import ModelCard

    from .loading import hub_reachable

    if not hub_reachable():
        return ReportedScores()
    try:
        results = ModelCard.load(repo_id).data.eval_results or []
    except Exception:  # no card, Hub unreachable, invalid metadata: no numbers to show
        return ReportedScores()
    return scores_from_eval_results(results)


def reported_scores(source: str | os.PathLike) -> ReportedScores:
    """What a model (local folder or Hub repo id) reports about itself."""
    return scores_from_folder(source) if os.path.isdir(source) else scores_from_card(str(source))


def rank_models(scores: dict[str, ReportedScores]) -> tuple[list[str], str]:
    """Model names best first, and the number they are ranked by: accuracy on a folder every model reports (one whose
    name says other signers preferred), else the reported test accuracy (then the numbers are not comparable)."""
    shared = set.intersection(*(set(s.other_sets) for s in scores.values())) if scores else set()
    data = min(shared, key=lambda name: (OTHER_SIGNERS_HINT not in name, name)) if shared else None

    def key(name: str) -> tuple[float, float]:
        other = scores[name].other_sets[data] if data else 0.0
        return other, float(scores[name].accuracy or 0.0)

    ranked_by = f"accuracy on {data} (photos the models never trained on)" if data else "reported test accuracy"
    return sorted(scores, key=key, reverse=True), ranked_by


__all__ = [
    "ReportedScores", "data_description", "extra_evaluations", "rank_models", "reported_scores", "scores_from_card",
    "scores_from_eval_results", "scores_from_folder",
]

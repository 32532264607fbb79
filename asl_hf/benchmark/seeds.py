"""Headline numbers over seeds: the same kind of model trained with several seeds (``scripts/run_pipeline.py --seed N``,
each seed drawing its own split as well as its training), summarised per figure as mean, sample standard deviation
and range. A single seed's accuracy on a few hundred test photos moves by a point with a handful of photos, and seeded
runs are not reproducible across CPUs, so the README's headline rows come from here.

Each model folder is read as training left it: ``all_results.json`` (test accuracy, macro-F1, calibration error,
accuracy per source folder), ``training_args.json`` (kind and seed) and, for every extra folder the job evaluated it on,
``eval_<folder>/eval_results.json``.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from pathlib import Path

from ..core.errors import AslError

TEST_FIGURES = {"test_accuracy": "test", "test_macro_f1": "test macro-F1", "test_expected_calibration_error": "test ECE"}
EXTRA_FIGURES = {"eval_accuracy": "", "eval_macro_f1": " macro-F1", "eval_expected_calibration_error": " ECE"}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise AslError(f"{path}: missing (not a model folder written by scripts/train.py?)") from None
    except json.JSONDecodeError as error:
        raise AslError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None


def model_figures(model_dir: str | os.PathLike) -> dict:
    """One trained model's kind, seed and figures (``{"test": 0.91, "test: <source>": ..., "<folder>": ...}``)."""
    folder = Path(model_dir)
    results = _read_json(folder / "all_results.json")
    args = _read_json(folder / "training_args.json")
    figures = {label: results[key] for key, label in TEST_FIGURES.items() if key in results}
    for source, row in sorted((results.get("test_per_source") or {}).items()):
        figures[f"test: {source}"] = row["accuracy"]
    for extra in sorted(folder.glob("eval_*/eval_results.json")):
        name, extra_results = extra.parent.name.removeprefix("eval_"), _read_json(extra)
        figures.update({f"{name}{suffix}": extra_results[key] for key, suffix in EXTRA_FIGURES.items() if key in extra_results})
    return {"model_dir": str(folder), "kind": args.get("model", "?"), "seed": args.get("seed"), "figures": figures}


def spread(values: list[float]) -> dict:
    """Mean, sample standard deviation (0 for one value), lowest and highest."""
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def seed_summary(model_dirs: list[str | os.PathLike]) -> dict:
    """Every model folder read, grouped by kind; per kind and figure, the spread over the folders that have it."""
    runs = [model_figures(folder) for folder in model_dirs]
    by_kind = defaultdict(list)
    for run in runs:
        by_kind[run["kind"]].append(run)
    summary = {}
    for kind, kind_runs in by_kind.items():
        seeds = [run["seed"] for run in kind_runs]
        if len(set(seeds)) < len(seeds):
            raise AslError(f"two {kind} folders of the same seed ({sorted(seeds)}): give each seed's folder once")
        names = dict.fromkeys(name for run in kind_runs for name in run["figures"])
        summary[kind] = {"seeds": seeds, "figures": {name: spread([run["figures"][name] for run in kind_runs if name in run["figures"]])
                                                     for name in names}}
    return {"runs": runs, "summary": summary}


def _cell(name: str, row: dict) -> str:
    """Accuracies and macro-F1 as percentages (sd in points); calibration errors as fractions."""
    if not name.endswith("ECE"):
        return f"{row['mean']:.2%} ± {row['sd'] * 100:.2f} ({row['min']:.2%}-{row['max']:.2%})"
    return f"{row['mean']:.3f} ± {row['sd']:.3f} ({row['min']:.3f}-{row['max']:.3f})"


def format_seed_table(report: dict) -> str:
    """Markdown: one row per kind of model, one column per figure: mean ± sd (range)."""
    lines = []
    for kind, entry in report["summary"].items():
        names = list(entry["figures"])
        lines += [f"**{kind}**, seeds {', '.join(str(s) for s in entry['seeds'])}: mean ± standard deviation (range)", "",
                  "| figure | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names),
                  f"| {kind} | " + " | ".join(_cell(name, entry["figures"][name]) for name in names) + " |", ""]
    return "\n".join(lines).rstrip()


__all__ = ["format_seed_table", "model_figures", "seed_summary", "spread"]

"""Headline numbers over seeds: the same kind of model trained with several seeds (``scripts/run_pipeline.py --seed N``,
each seed drawing its own split as well as its training), summarised per figure as mean, sample standard deviation
and range. A single seed's accuracy on a few hundred test photos moves by a point with a handful of photos, and seeded
runs are not reproducible across CPUs, so the README's headline rows come from here.

Each model folder is read as training left it, by :class:`~asl_hf.hub.training_run.TrainingRun` (what the model cards
are built from): ``all_results.json`` (test accuracy, macro-F1, calibration error, accuracy per source folder), the
kind of model, the seed, and ``eval_<folder>/evaluation_report.json`` for every extra folder the job evaluated it on.
"""

from __future__ import annotations

import os
import statistics
from collections import defaultdict

from ..core.errors import AslError
from ..hub.training_run import TrainingRun, report_name

TEST_FIGURES = {"test_accuracy": "test", "test_macro_f1": "test macro-F1", "test_expected_calibration_error": "test ECE"}
EXTRA_FIGURES = {"accuracy": "", "macro_f1": " macro-F1", "expected_calibration_error": " ECE"}


def model_figures(model_dir: str | os.PathLike) -> dict:
    """One trained model's kind, seed and figures (``{"test": 0.91, "test: <source>": ..., "<folder>": ...}``), read
    with the model cards' reader of training folders."""
    run = TrainingRun(model_dir)
    figures = {label: run.results[key] for key, label in TEST_FIGURES.items() if key in run.results}
    for source, row in sorted((run.results.get("test_per_source") or {}).items()):
        figures[f"test: {source}"] = row["accuracy"]
    for report in run.extra_evaluations:
        name = report_name(report)
        figures.update({f"{name}{suffix}": report[key] for key, suffix in EXTRA_FIGURES.items() if report.get(key) is not None})
    return {"model_dir": str(run.dir), "kind": run.kind, "seed": run.args.get("seed"), "figures": figures}


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

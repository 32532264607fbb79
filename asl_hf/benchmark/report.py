"""Markdown tables from a benchmark result (what ``scripts/benchmark.py`` prints and docs publish)."""

from __future__ import annotations


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(_fmt(cell) if not isinstance(cell, str) else cell for cell in row) + " |" for row in rows]
    return lines


def machine_line(machine: dict) -> str:
    parts = [f"{machine['cpu']}", f"{machine['cores']} cores", f"{machine['ram_gib']} GiB RAM", f"torch {machine['torch']}",
             f"{machine['torch_threads']} threads", f"device {machine['device']}"]
    if "gpu" in machine:
        parts.append(machine["gpu"])
    if "onnxruntime" in machine:
        parts.append(f"onnxruntime {machine['onnxruntime']}")
    return ", ".join(parts)


def format_markdown(report: dict) -> str:
    batch = report["options"]["batch_size"]
    out = [f"Machine: {machine_line(report['machine'])}", ""]
    load = report["machine"].get("load_average_at_start", [0.0])[0]
    if load > 0.5:
        out += [f"**Warning: the machine was busy when the benchmark started (1-minute load average {load:.2f}); "
                "timings are pessimistic. Re-run on an idle machine.**", ""]

    out += ["### Inference (batch-1 latency includes preprocessing from a decoded PIL image)", ""]
    rows = []
    for model in report["models"]:
        inference = model["inference"]
        predict = inference["predict"]
        runtime = f" ({inference['runtime']})" if "runtime" in inference else ""
        rows.append([model["name"], f"`load_classifier().predict`{runtime}", predict["p50_ms"], predict["p95_ms"], None, None, None, None, None])
        for name, row in inference.get("predict_by_runtime", {}).items():  # reports written before ONNX inference have none
            if "unavailable" in row:
                rows.append([model["name"], f"`predict`, runtime {name}: not available", None, None, None, None, None, None, None])
                continue
            rows.append([model["name"], f"`load_classifier(runtime=\"{'onnx' if name == 'onnxruntime' else name}\").predict`",
                         row["batch1_ms"]["p50_ms"], row["batch1_ms"]["p95_ms"], None, None, row["test_accuracy"],
                         row["agreement_with_eager"], None])
        if "spell_frame" in inference:  # reports written before spelling existed have no such row
            spell = inference["spell_frame"]
            rows.append([model["name"], "one spelling frame: `predict_proba` + `SpellingMachine.update`", spell["p50_ms"],
                         spell["p95_ms"], None, None, None, None, None])
        for name, path in inference["paths"].items():
            rows.append([
                model["name"], f"{name} + lean preprocessing", path["batch1_ms"]["p50_ms"], path["batch1_ms"]["p95_ms"],
                path[f"batch{batch}_images_per_second"], path[f"batch{batch}_with_preprocessing_images_per_second"],
                path["test_accuracy"], path["agreement_with_eager"], f"{path['max_abs_logit_difference']:.2g}",
            ])
        for name, reason in inference["failed_paths"].items():
            rows.append([model["name"], f"{name}: not available ({reason})", None, None, None, None, None, None, None])
    out += _table(["model", "path", "p50 ms", "p95 ms", f"batch-{batch} img/s (model)", f"batch-{batch} img/s (incl. preprocessing)",
                   "test accuracy", "agreement with eager", "max abs logit diff vs eager"], rows)

    out += ["", "### Preprocessing one image (ms, p50)", ""]
    rows = []
    for model in report["models"]:
        pre = model["inference"]["preprocessing"]
        for name, timing in pre.items():
            if isinstance(timing, dict) and "p50_ms" in timing:
                rows.append([model["name"], name, timing["p50_ms"], timing["p95_ms"]])
        differences = ", ".join(f"{k}: {v:.1g}" for k, v in pre["lean_max_abs_difference"].items())
        rows.append([model["name"], f"lean vs reference, max abs difference ({differences})", None, None])
    out += _table(["model", "preprocessing", "p50 ms", "p95 ms"], rows)

    trained = [m for m in report["models"] if "training" in m]
    if trained:
        out += ["", f"### Training (batch {batch}, images/s)", ""]
        rows = []
        for model in trained:
            training, pipeline = model["training"], model["data_pipeline"]
            steps = sorted(pipeline["augmentation_steps_us"].items(), key=lambda item: -item[1])
            rows.append([
                model["name"], training["loop_images_per_second"], training["compute_images_per_second"], training["loop_to_compute"],
                training["num_workers"], training.get("input_path", "-"),
                model.get("saved_results", {}).get("train_samples_per_second", "-"), pipeline["decode_images_per_second"], pipeline["decode_augment_images_per_second"],
                ", ".join(f"{name} {us:.0f}" for name, us in steps),
            ])
        out += _table(["model", "training loop", "compute only", "loop / compute", "workers", "input",
                       "whole training run (all_results.json)", "decode only (img per CPU-s)",
                       "decode + augment (img per CPU-s)", "augmentation steps, CPU µs/image"], rows)

    out += ["", "### Accuracy and memory", ""]
    rows = []
    for model in report["models"]:
        saved = model["saved_results"]
        extra = "; ".join(f"{folder}: acc {r['accuracy']:.4f}, F1 {r['macro_f1']:.4f} ({r['images']} images)"
                          for folder, r in model.get("test_dirs", {}).items())
        memory = model["memory_mb"]
        rows.append([
            model["name"] + ("" if model["trained"] else " — untrained, random weights"), model["num_parameters"],
            "x".join(str(s) for s in model["inference"]["input_size"][1:]), saved.get("test_accuracy"), saved.get("test_macro_f1"),
            extra or "-", memory["inference_peak_rss"], memory.get("training_peak_rss"),
        ])
    out += _table(["model", "parameters", "input", "test accuracy (saved)", "test macro-F1 (saved)", "--test_dir",
                   "peak RSS MiB (inference)", "peak RSS MiB (+ training)"], rows)
    return "\n".join(out) + "\n"


def write_json_report(report: dict, path) -> None:
    """Every figure of a benchmark run as indented JSON at ``path`` (its folder made), and one line saying where."""
    import json
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Wrote {path}")


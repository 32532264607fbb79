"""The readable body of a model card: results, other test sets, per-class scores, training, limitations."""

from __future__ import annotations

from pathlib import Path

from ..core.constants import CLASS_NAMES, MOTION_CLASSES
from .training_run import KIND_TITLES, SPLITS, TrainingRun, hand_found_share, report_name

IMAGENET_CHECKPOINT = "timm/mobilenetv2_100.ra_in1k"  # same as asl_hf.models.mobilenet (not imported: it pulls in timm)
MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.14"  # the release that bundles the hand models (see image_processing_asl_landmarks)


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * float(value):.2f}%"


def _score(value) -> str:
    """Three decimals; undefined scores (a class without images gives NaN or None) read as n/a."""
    return "n/a" if value is None or value != value else f"{float(value):.3f}"


def _ece(value) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"


def results_table(run: TrainingRun) -> str:
    hands = run.kind == "landmarks"
    rows = ["| Split | Images | Accuracy | Macro F1 | Calibration error (ECE) | Loss |" + (" Hand found |" if hands else ""),
            "|---|---:|---:|---:|---:|---:|" + ("---:|" if hands else "")]
    for split, prefix, title in SPLITS:
        loss = run.results.get(f"{prefix}_loss")
        images = run.data_info.get(f"num_{split}", run.results.get(f"{prefix}_samples", "n/a"))
        rows.append(f"| {title} | {images} | {_pct(run.results[f'{prefix}_accuracy'])} | "
                    f"{_pct(run.results[f'{prefix}_macro_f1'])} | {_ece(run.results.get(f'{prefix}_expected_calibration_error'))} | "
                    f"{'n/a' if loss is None else f'{float(loss):.4f}'} |" + (f" {_pct(run.hand_found(prefix))} |" if hands else ""))
    return "\n".join(rows)


def calibration_note(run: TrainingRun) -> str:
    """How the probabilities were calibrated (a temperature fitted on validation), and what ECE means."""
    temperature = run.results.get("temperature")
    ece = ("The calibration error (ECE, 15 bins) is the mean gap between the model's confidence and its accuracy: 0 when "
           "answers given with 80% are right 80% of the time.")
    if temperature is None:
        return ece
    return (f"{ece} The probabilities are temperature-scaled: T = {float(temperature):.3g}, fitted on the validation split "
            "and folded into the last layer's weights, so every way of running the model gives them (the top class is unchanged).")


def sources_section(run: TrainingRun) -> str:
    """The folders the model was trained on: images per source and split, test accuracy per source, and images per
    class and source (in-distribution accuracy is one number per source when the data came from several)."""
    sources = run.data_info.get("sources") or {}
    if len(sources) < 2:
        return ""
    test, validation = run.results.get("test_per_source") or {}, run.results.get("eval_per_source") or {}
    rows = ["| Source | Folder | Train | Validation | Test | Validation accuracy | Test accuracy |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, info in sources.items():
        folder = f"`{Path(str(info['dir'])).name}`" if info.get("dir") else "-"
        rows.append(f"| `{name}` | {folder} | {info.get('num_train', 'n/a')} | {info.get('num_validation', 'n/a')} | "
                    f"{info.get('num_test', 'n/a')} | {_pct((validation.get(name) or {}).get('accuracy'))} | "
                    f"{_pct((test.get(name) or {}).get('accuracy'))} |")
    names = list(sources)
    classes = [c for c in CLASS_NAMES if any((sources[n].get("class_counts") or {}).get(c) for n in names)]
    per_class = ["| Class | " + " | ".join(f"`{n}`" for n in names) + " |", "|---|" + "---:|" * len(names)]
    per_class += [f"| `{c}` | " + " | ".join(str((sources[n].get("class_counts") or {}).get(c, 0)) for n in names) + " |" for c in classes]
    return ("### Per source\n\nThe training data came from several folders (the `source` column of the prepared data set); each "
            "is split 80/10/10 on its own, so every source is in every split:\n\n" + "\n".join(rows)
            + "\n\nImages per class and source (all splits):\n\n" + "\n".join(per_class))


def extra_evaluations_section(run: TrainingRun) -> str:
    """Scores on other labelled folders (``scripts/evaluate_model.py --test_dir``), next to the in-distribution test."""
    if not run.extra_evaluations:
        return ""
    hands = run.kind == "landmarks"
    rows = ["| Data | Images | Accuracy | Macro F1 | Calibration error (ECE) |" + (" Hand found |" if hands else "") + " Classes without images |",
            "|---|---:|---:|---:|---:|" + ("---:|" if hands else "") + "---|",
            f"| this model's test split (the training data's signers and rooms) | {run.data_info.get('num_test', 'n/a')} | "
            f"{_pct(run.results.get('test_accuracy'))} | {_pct(run.results.get('test_macro_f1'))} | "
            f"{_ece(run.results.get('test_expected_calibration_error'))} |" + (f" {_pct(run.hand_found('test'))} |" if hands else "") + " - |"]
    for report in run.extra_evaluations:
        missing = ", ".join(report.get("missing_classes") or []) or "-"
        rows.append(f"| `{report_name(report) or '?'}` | {report.get('num_images', 'n/a')} | {_pct(report.get('accuracy'))} | "
                    f"{_pct(report.get('macro_f1'))} | {_ece(report.get('expected_calibration_error'))} |"
                    + (f" {_pct(hand_found_share(report))} |" if hands else "") + f" {missing} |")
    return ("### Other test sets\n\nThe same model on labelled folders it never saw in training (`scripts/evaluate_model.py "
            "--test_dir`), e.g. photos of other signers in other rooms:\n\n" + "\n".join(rows))


def per_class_table(run: TrainingRun) -> str:
    test, validation = run.per_class.get("test") or {}, run.per_class.get("validation") or {}
    if not test:
        return "Per-class scores were not saved with this model (`per_class_metrics.json`)."
    rows = ["| Class | Precision | Recall | F1 | Support | Validation F1 |", "|---|---:|---:|---:|---:|---:|"]
    for name in [c for c in CLASS_NAMES if c in test] + [c for c in test if c not in CLASS_NAMES]:
        scores = test[name]
        val_f1 = (validation.get(name) or {}).get("f1")
        rows.append(f"| `{name}` | {_score(scores.get('precision'))} | {_score(scores.get('recall'))} | {_score(scores.get('f1'))} | "
                    f"{scores.get('support', 'n/a')} | {_score(val_f1)} |")
    return "\n".join(rows)


def _args_table(run: TrainingRun, keys: list[tuple[str, str]]) -> str:
    rows = [(label, run.args[key]) for key, label in keys if key in run.args and run.args[key] is not None]
    if not rows:
        return ""
    return "\n".join(["| Setting | Value |", "|---|---|"] + [f"| {label} | `{value}` |" for label, value in rows])


def _augmentation_table(run: TrainingRun) -> str:
    """The landmark model rotates, scales and jitters the 3-D points; the image models transform the photos."""
    if run.kind == "landmarks":
        return _args_table(run, [("rotation", "Rotation about each axis (degrees, +-)"), ("zoom", "Per-axis scale (+- fraction)"),
                                 ("landmark_noise", "Per-point noise (fraction of the hand's size)")])
    return _args_table(run, [("rotation", "Rotation (degrees, +-)"), ("shift", "Shift (fraction)"), ("shear", "Shear (degrees)"),
                             ("zoom", "Zoom (+- fraction)"), ("color_jitter", "Colour jitter"), ("horizontal_flip", "Horizontal flip")])


COMMON_SETTINGS = [("per_device_train_batch_size", "Batch size per device"), ("gradient_accumulation_steps", "Gradient accumulation"),
                   ("weight_decay", "Weight decay (AdamW)"), ("lr_scheduler_type", "Schedule"), ("num_warmup_steps", "Warm-up steps"),
                   ("label_smoothing", "Label smoothing"), ("max_grad_norm", "Gradient clipping"), ("mixed_precision", "Mixed precision"),
                   ("balance_sources", "Sources balanced in sampling"), ("seed", "Seed")]


def _phases(run: TrainingRun) -> str:
    """What trains, in which phases, with which settings."""
    if run.kind in ("cnn", "landmarks"):
        weights = ("all weights train" if run.kind == "cnn" else "the MLP trains on the landmarks of the training photos in which "
                   "MediaPipe found a hand (validation and test keep every photo), and")
        return (f"One phase: {weights} from random initialisation with AdamW.\n\n"
                + _args_table(run, [("learning_rate", "Learning rate"), ("num_train_epochs", "Epochs")] + COMMON_SETTINGS))
    start = (f"ImageNet weights (`{IMAGENET_CHECKPOINT}`)" if run.pretrained else "random weights (`--no_pretrained`)")
    return (f"The backbone starts from {start}. Training has two phases.\n\n"
            "**Phase 1, head only**: the backbone is frozen (BatchNorm statistics too); the 1x1 projection, its "
            "BatchNorm and the new 29-way classifier train.\n\n"
            + _args_table(run, [("learning_rate", "Learning rate"), ("num_train_epochs", "Epochs")]) + "\n\n"
            "**Phase 2, fine-tuning**: the top backbone blocks are unfrozen and train with the head at a lower rate.\n\n"
            + _args_table(run, [("finetune_learning_rate", "Learning rate"), ("finetune_epochs", "Epochs"),
                                ("unfreeze_blocks", "Unfrozen blocks")]) + "\n\n"
            "**Both phases**:\n\n" + _args_table(run, COMMON_SETTINGS))


def _folders(data: dict) -> str:
    """The raw folder(s) the data came from, by name."""
    dirs = data.get("train_dirs") or ([data["train_dir"]] if data.get("train_dir") else [])
    return " + ".join(f"`{Path(str(d)).name}`" for d in dirs)


def _data_sentence(run: TrainingRun) -> str:
    """Which data, how it was split, and how many images each split holds."""
    data = run.data_info
    if data.get("dataset_name"):
        source = f"`{data['dataset_name']}`"
    elif data.get("dataset_dir"):
        origin = f", prepared from {_folders(data)}" if _folders(data) else ""
        source = f"a locally prepared data set (`{Path(data['dataset_dir']).name}`{origin})"
    elif _folders(data):
        source = f"local image folders ({_folders(data)})"
    else:
        source = "an unrecorded data set (no `dataset_info.json`)"
    if data.get("split_by") == "group":
        split_note = (f"grouped (within each source and class, near-duplicate photos stay in one split: blocks of "
                      f"{data.get('group_size', 'n/a')} frame numbers, or the file name without its frame number; an honest estimate)")
    else:
        split_note = "stratified random (near-duplicate video frames can sit in both train and test, so accuracy is optimistic)"
    sizes = ", ".join(f"{data[f'num_{s}']} {s}" for s in ("train", "validation", "test") if f"num_{s}" in data)
    return f"Data: {source}, split 80/10/10, {split_note}" + (f"; {sizes} images." if sizes else ".")


def training_section(run: TrainingRun) -> str:
    """Data and command, the epoch kept, phases and settings, augmentation and training time."""
    augmentation = _augmentation_table(run)
    data = run.data_info
    parts = [
        _data_sentence(run),
        f"Command: `{data['command']}`" if data.get("command") else "",
        f"The model kept is the epoch with the best validation accuracy (epoch {run.results.get('best_epoch', 'n/a')}).",
        _phases(run),
        f"Augmentation (training {'landmarks, in 3-D' if run.kind == 'landmarks' else 'images'} only):\n\n" + augmentation if augmentation else "",
    ]
    if run.results.get("train_runtime") is not None:
        parts.append(f"Training took {float(run.results['train_runtime']):.0f} s "
                     f"({run.results.get('train_samples_per_second', 'n/a')} images/s).")
    return "\n\n".join(p for p in parts if p)


def comparison_section(run: TrainingRun, repo_id: str, other: TrainingRun) -> str:
    rows = ["| Model | Parameters | Validation accuracy | Test accuracy | Test macro F1 | Training images/s |",
            "|---|---:|---:|---:|---:|---:|"]
    for label, item in ((f"**{KIND_TITLES[run.kind]}** (this model)", run), (KIND_TITLES[other.kind], other)):
        params = f"{item.num_parameters:,}" if item.num_parameters else "n/a"
        rows.append(f"| {label} | {params} | {_pct(item.results['eval_accuracy'])} | {_pct(item.results['test_accuracy'])} | "
                    f"{_pct(item.results['test_macro_f1'])} | {item.results.get('train_samples_per_second', 'n/a')} |")
    note = ""
    if run.data_info.get("num_test") != other.data_info.get("num_test") or run.data_info.get("split_by") != other.data_info.get("split_by"):
        note = "\n\nThe two runs were not evaluated on identical test splits, so compare them with care."
    return "\n".join(rows) + note


def what(run: TrainingRun) -> str:
    """One paragraph on the architecture and its input, from ``config.json`` and ``preprocessor_config.json``."""
    size = f"{run.image_size}x{run.image_size}" if run.image_size else "small"
    params = f"{run.num_parameters:,} parameters" if run.num_parameters else "a small number of parameters"
    num_classes = len(run.config.get("id2label") or CLASS_NAMES)
    if run.kind == "cnn":
        blocks = run.config.get("conv_channels") or []
        return (f"A compact convolutional network written for this task: {len(blocks)} convolution + max-pool blocks "
                f"({', '.join(map(str, blocks))} filters), a dense layer of {run.config.get('hidden_size')} units, "
                f"dropout and a {num_classes}-way classifier ({params}), packaged as a `transformers` model with its own configuration "
                f"and image processor. Input: {size} RGB images, rescaled to [0, 1] and normalised.")
    if run.kind == "landmarks":
        return _landmarks_what(run, params, num_classes)
    start = f"fine-tuned from ImageNet weights (`{IMAGENET_CHECKPOINT}`)" if run.pretrained else "trained from random weights"
    return (f"`timm`'s MobileNetV2 (`{run.config.get('architecture', 'mobilenetv2_100')}`) with a new {num_classes}-way classifier, "
            f"{start} ({params}). Input: {size} RGB images with timm's preprocessing.")


def _landmarks_what(run: TrainingRun, params: str, num_classes: int) -> str:
    config, processor = run.config, run.processor_config
    points, coordinates = config.get("num_landmarks", 21), config.get("num_coordinates", 3)
    attempts = len(processor.get("detection_attempts") or [])
    tries = (f" It tries {attempts} detection settings in turn (model complexity, a border for hands cut by the edge, "
             "brightening for dark photos, a black border first for hands segmented onto black) until one finds a hand."
             if attempts > 1 else "")
    mirror = (" At test time the mirrored hand is classified too and the surer of the two views answers, because "
              "MediaPipe's left/right call is wrong on some photos." if config.get("mirror_test_time") else "")
    layers = ", ".join(map(str, config.get("hidden_sizes") or []))
    return (f"Not a network over pixels: MediaPipe Hands (`{MEDIAPIPE_REQUIREMENT}`), run by the saved image processor, finds "
            f"one hand and its {points} landmarks.{tries} The landmarks are normalised for position (wrist at the origin), "
            "scale (largest wrist-to-point distance 1) and handedness (a hand MediaPipe does not call "
            f"`{processor.get('canonical_handedness', 'Left')}`, the training signer's, is mirrored), and a multilayer "
            f"perceptron (hidden layers of {layers} units with BatchNorm, ReLU and dropout {config.get('dropout', 'n/a')}) "
            f"classifies the {points * coordinates} numbers into {num_classes} classes ({params}).{mirror} A photo "
            f"without a hand gets `{config.get('no_hand_label', 'nothing')}` with probability 1 and `hand_found` false, "
            "so it counts as wrong for every letter in the results below.")


def limitations(run: TrainingRun) -> str:
    if run.kind == "landmarks":
        answer = (f"- When MediaPipe finds no hand (dark photos, hands cut by the edge, unusual angles) the model answers "
                  f"`{run.config.get('no_hand_label', 'nothing')}`: check the processor's `hand_found` (see Usage). The "
                  "*Hand found* columns above say how often that happened. Only one hand is read per photo.")
    else:
        answer = "- The classifier always answers one of the 29 classes: it has no \"not a hand sign\" option other than `nothing`."
    return f"""- The public ASL Alphabet photos show **one signer** in front of a few similar backgrounds. Accuracy on other
  people, hands, skin tones, lighting and rooms is much lower than the numbers above; evaluate on your own photos first.
- {" and ".join(MOTION_CLASSES)} are signed with **motion**; a still image only shows the final hand shape (J's is
  the same as I's), so these letters are recognised from posture alone and are easily confused.
{answer}
- Not suitable for decisions that affect people (e.g. accessibility services) without further validation."""

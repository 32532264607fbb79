"""Model cards for trained ASL models, built from a training output folder.

Why a module of its own: the card is the model's documentation on the Hub *and* its machine-readable
evaluation (``model-index``), so it is built only from the files training wrote (``training_args.json``,
``all_results.json``, ``per_class_metrics.json``, ``dataset_info.json``, confusion matrices), with
``huggingface_hub.ModelCard``/``ModelCardData``/``EvalResult`` producing the metadata the Hub validates. The
``model-index`` lists the trained-on data set's test and validation scores first, then each extra evaluation saved in
the folder (``eval_<name>/evaluation_report.json``, e.g. photos of other signers), which the Space ranks models by.
Three kinds: the CNN, MobileNetV2 and the hand-landmark classifier, whose hand-found rates come from
``<split>_no_hand_found_fraction`` (``all_results.json``) and ``no_hand_found_fraction`` (``eval_*/evaluation_report.json``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..core.constants import CLASS_NAMES, MOTION_CLASSES
from ..core.errors import AslError
from ..inference.reports import extra_evaluations

IMAGENET_CHECKPOINT = "timm/mobilenetv2_100.ra_in1k"  # same as asl_hf.models.mobilenet (not imported: it pulls in timm)
SPLITS = (("test", "test", "Test"), ("validation", "eval", "Validation"))  # (split name, results prefix, title)
KIND_TITLES = {"cnn": "custom CNN", "mobilenetv2": "MobileNetV2", "landmarks": "hand-landmark classifier"}
KIND_TAGS = {"cnn": ["custom-code"], "mobilenetv2": ["mobilenetv2"], "landmarks": ["custom-code", "mediapipe", "hand-landmarks"]}
MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.14"  # the release that bundles the hand models (see image_processing_asl_landmarks)
SECRET_KEY_PARTS = ("token", "password", "secret")


class ModelFolderError(AslError):
    """A folder to publish is not a saved model, or lacks the evaluation files training writes."""


def _read_json(path: Path, required: bool = False):
    if not path.is_file():
        if required:
            raise ModelFolderError(f"{path}: missing (push a folder written by scripts/train.py, which evaluates the model)")
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFolderError(f"{path}: not valid JSON ({error})") from error


def public_training_args(args: dict) -> dict:
    """Training arguments without secrets (``hub_token`` and the like never reach a card or the Hub).

    Unset options written as the string ``"None"`` are read back as ``None`` so the card leaves them out.
    """
    return {k: None if v == "None" else v for k, v in args.items() if not any(part in k.lower() for part in SECRET_KEY_PARTS)}


def detect_model_kind(model_dir: str | os.PathLike) -> str:
    """``"cnn"`` for the transformers CNN folder, ``"landmarks"`` for the hand-landmark classifier, ``"mobilenetv2"``
    for a timm folder (from ``config.json``)."""
    model_dir = Path(model_dir)
    config = _read_json(model_dir / "config.json", required=True)
    if not (model_dir / "model.safetensors").is_file():
        raise ModelFolderError(f"{model_dir / 'model.safetensors'}: missing (only safetensors weights are published)")
    if config.get("model_type") == "asl_cnn":
        return "cnn"
    if config.get("model_type") == "asl_landmarks":
        return "landmarks"
    if "architecture" in config:
        return "mobilenetv2"
    raise ModelFolderError(
        f"{model_dir / 'config.json'}: not the ASL CNN (model_type asl_cnn), the hand-landmark classifier (asl_landmarks) "
        "nor a timm model (architecture)")


class TrainingRun:
    """The files of one training output folder, read once."""

    def __init__(self, model_dir: str | os.PathLike):
        self.dir = Path(model_dir)
        self.kind = detect_model_kind(self.dir)
        self.config = _read_json(self.dir / "config.json", required=True)
        results = _read_json(self.dir / "all_results.json") or _read_json(self.dir / "eval_results.json")
        if results is None:
            _read_json(self.dir / "all_results.json", required=True)
        missing = [f"{p}_{m}" for _, p, _ in SPLITS for m in ("accuracy", "macro_f1") if f"{p}_{m}" not in results]
        if missing:
            raise ModelFolderError(f"{self.dir / 'all_results.json'}: missing {', '.join(missing)}")
        self.results: dict = results
        self.args: dict = public_training_args(_read_json(self.dir / "training_args.json") or {})
        self.per_class: dict = _read_json(self.dir / "per_class_metrics.json") or {}
        self.data_info: dict = _read_json(self.dir / "dataset_info.json") or {}
        self.extra_evaluations: list[dict] = extra_evaluations(self.dir)
        """Evaluations by ``scripts/evaluate_model.py`` saved in the model folder (e.g. photos of other signers)."""
        self.confusion_matrices = [f"confusion_matrix_{s}.png" for s, _, _ in SPLITS if (self.dir / f"confusion_matrix_{s}.png").is_file()]
        self.processor_config: dict = _read_json(self.dir / "preprocessor_config.json") or {}

    @property
    def pretrained(self) -> bool:
        """MobileNetV2 started from ImageNet weights unless trained with ``--no_pretrained``."""
        if self.kind != "mobilenetv2":
            return False
        if "no_pretrained" in self.args:
            return not self.args["no_pretrained"]
        return bool(self.args.get("pretrained", True))

    @property
    def image_size(self) -> int | None:
        if self.kind == "cnn":
            return self.config.get("image_size")
        size = (self.config.get("pretrained_cfg") or {}).get("input_size")
        return size[-1] if size else None

    @property
    def num_parameters(self) -> int | None:
        return self.results.get("num_parameters")

    def hand_found(self, prefix: str) -> float | None:
        """Share of a split's photos in which MediaPipe found a hand, if reported (``<prefix>_no_hand_found_fraction``,
        written by training and by ``scripts/evaluate_model.py``)."""
        return _hand_found({"no_hand_found_fraction": self.results.get(f"{prefix}_no_hand_found_fraction")})


def _hand_found(report: dict) -> float | None:
    """The same share from an ``evaluation_report.json`` (null there for pixel models)."""
    missed = report.get("no_hand_found_fraction")
    return None if missed is None else 1.0 - float(missed)


EXTRA_SPLIT = "test"
"""The ``dataset_split`` of an extra evaluation: the whole folder is a test set (none of it was used in training)."""


def _report_name(report: dict) -> str:
    """The name an ``evaluation_report.json`` goes by (``split_name``, else its folder's name): the ``dataset_name`` of
    its ``model-index`` entries and the key the Space ranks models by (``space/app.py`` ``_extra_accuracies``)."""
    return str(report.get("split_name") or Path(str(report.get("data") or "")).name)


def _extra_entries(name: str, report: dict) -> list[EvalResult]:
    """Accuracy and (when reported) macro-F1 of one extra evaluation; NaN or missing scores are left out."""
    entries = []
    for metric, metric_name, value, args in (("accuracy", "Accuracy", report.get("accuracy"), None),
                                             ("f1", "Macro F1", report.get("macro_f1"), {"average": "macro"})):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            entries.append(EvalResult(
                task_type="image-classification", task_name="Image Classification",
                dataset_type=name, dataset_name=name, dataset_split=EXTRA_SPLIT,
                metric_type=metric, metric_name=metric_name, metric_value=round(float(value), 4), metric_args=args,
            ))
    return entries


def eval_results(run: TrainingRun, dataset_id: str, dataset_name: str) -> list[EvalResult]:
    """Accuracy and macro-F1 as the Hub's ``model-index`` entries: first the test and validation splits of the data
    set trained on (``dataset_id``/``dataset_name``), then each extra evaluation in the folder
    (``eval_<name>/evaluation_report.json``, e.g. ``other_signers_dev``: photos of other signers never trained on).

    An extra evaluation is a local folder, not a Hub data set, so its ``dataset_type`` and ``dataset_name`` are both
    its report name (a stable id; ``model-index`` wants a type, and the Space keys its ranking by the name), its split
    is ``"test"`` (the whole folder is held out) and no ``dataset_config``/``source`` is claimed (there is no Hub config
    and no URL to cite). Reports without an accuracy, without a name, or named like the main data set are left out."""
    entries = []
    for split, prefix, _ in SPLITS:
        for metric, name, args in (("accuracy", "Accuracy", None), ("f1", "Macro F1", {"average": "macro"})):
            key = f"{prefix}_{'accuracy' if metric == 'accuracy' else 'macro_f1'}"
            entries.append(EvalResult(
                task_type="image-classification", task_name="Image Classification",
                dataset_type=dataset_id, dataset_name=dataset_name, dataset_config="default", dataset_split=split,
                metric_type=metric, metric_name=name, metric_value=round(float(run.results[key]), 4), metric_args=args,
            ))
    seen = {dataset_name}
    for report in run.extra_evaluations:
        name = _report_name(report)
        extra = _extra_entries(name, report) if name and name not in seen else []
        if extra and extra[0].metric_type == "accuracy":  # a report without an accuracy is not an evaluation to list
            seen.add(name)
            entries += extra
    return entries


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * float(value):.2f}%"


def _score(value) -> str:
    """Three decimals; undefined scores (a class without images gives NaN or None) read as n/a."""
    return "n/a" if value is None or value != value else f"{float(value):.3f}"


def _results_table(run: TrainingRun) -> str:
    hands = run.kind == "landmarks"
    rows = ["| Split | Images | Accuracy | Macro F1 | Loss |" + (" Hand found |" if hands else ""),
            "|---|---:|---:|---:|---:|" + ("---:|" if hands else "")]
    for split, prefix, title in SPLITS:
        loss = run.results.get(f"{prefix}_loss")
        images = run.data_info.get(f"num_{split}", run.results.get(f"{prefix}_samples", "n/a"))
        rows.append(f"| {title} | {images} | {_pct(run.results[f'{prefix}_accuracy'])} | "
                    f"{_pct(run.results[f'{prefix}_macro_f1'])} | {'n/a' if loss is None else f'{float(loss):.4f}'} |"
                    + (f" {_pct(run.hand_found(prefix))} |" if hands else ""))
    return "\n".join(rows)


def _extra_evaluations_section(run: TrainingRun) -> str:
    """Scores on other labelled folders (``scripts/evaluate_model.py --test_dir``), next to the in-distribution test."""
    if not run.extra_evaluations:
        return ""
    hands = run.kind == "landmarks"
    rows = ["| Data | Images | Accuracy | Macro F1 |" + (" Hand found |" if hands else "") + " Classes without images |",
            "|---|---:|---:|---:|" + ("---:|" if hands else "") + "---|",
            f"| this model's test split (same signer and rooms as training) | {run.data_info.get('num_test', 'n/a')} | "
            f"{_pct(run.results.get('test_accuracy'))} | {_pct(run.results.get('test_macro_f1'))} |"
            + (f" {_pct(run.hand_found('test'))} |" if hands else "") + " - |"]
    for report in run.extra_evaluations:
        missing = ", ".join(report.get("missing_classes") or []) or "-"
        rows.append(f"| `{_report_name(report) or '?'}` | {report.get('num_images', 'n/a')} | {_pct(report.get('accuracy'))} | "
                    f"{_pct(report.get('macro_f1'))} |" + (f" {_pct(_hand_found(report))} |" if hands else "") + f" {missing} |")
    return ("### Other test sets\n\nThe same model on labelled folders it never saw in training (`scripts/evaluate_model.py "
            "--test_dir`), e.g. photos of other signers in other rooms:\n\n" + "\n".join(rows))


def _per_class_table(run: TrainingRun) -> str:
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


def _training_section(run: TrainingRun) -> str:
    common = [("per_device_train_batch_size", "Batch size per device"), ("gradient_accumulation_steps", "Gradient accumulation"),
              ("weight_decay", "Weight decay (AdamW)"), ("lr_scheduler_type", "Schedule"), ("num_warmup_steps", "Warm-up steps"),
              ("label_smoothing", "Label smoothing"), ("max_grad_norm", "Gradient clipping"), ("mixed_precision", "Mixed precision"),
              ("seed", "Seed")]
    if run.kind in ("cnn", "landmarks"):
        weights = ("all weights train" if run.kind == "cnn" else "the MLP trains on the landmarks of the training photos in which "
                   "MediaPipe found a hand (validation and test keep every photo), and")
        phases = (f"One phase: {weights} from random initialisation with AdamW.\n\n"
                  + _args_table(run, [("learning_rate", "Learning rate"), ("num_train_epochs", "Epochs")] + common))
    else:
        start = (f"ImageNet weights (`{IMAGENET_CHECKPOINT}`)" if run.pretrained else "random weights (`--no_pretrained`)")
        phases = (f"The backbone starts from {start}. Training has two phases.\n\n"
                  "**Phase 1, head only**: the backbone is frozen (BatchNorm statistics too); the 1x1 projection, its "
                  "BatchNorm and the new 29-way classifier train.\n\n"
                  + _args_table(run, [("learning_rate", "Learning rate"), ("num_train_epochs", "Epochs")]) + "\n\n"
                  "**Phase 2, fine-tuning**: the top backbone blocks are unfrozen and train with the head at a lower rate.\n\n"
                  + _args_table(run, [("finetune_learning_rate", "Learning rate"), ("finetune_epochs", "Epochs"),
                                      ("unfreeze_blocks", "Unfrozen blocks")]) + "\n\n"
                  "**Both phases**:\n\n" + _args_table(run, common))
    augmentation = _augmentation_table(run)
    data = run.data_info
    if data.get("dataset_name"):
        source = f"`{data['dataset_name']}`"
    elif data.get("dataset_dir"):
        origin = f", prepared from `{Path(data['train_dir']).name}`" if data.get("train_dir") else ""
        source = f"a locally prepared copy of the ASL Alphabet images (`{Path(data['dataset_dir']).name}`{origin})"
    elif data.get("train_dir"):
        source = f"a local ASL Alphabet image folder (`{Path(data['train_dir']).name}`)"
    else:
        source = "an unrecorded data set (no `dataset_info.json`)"
    split_note = (f"grouped by blocks of {data.get('group_size', 'n/a')} consecutive frame numbers (an honest estimate)" if data.get("split_by") == "group"
                  else "stratified random (near-duplicate video frames can sit in both train and test, so accuracy is optimistic)")
    sizes = ", ".join(f"{data[f'num_{s}']} {s}" for s in ("train", "validation", "test") if f"num_{s}" in data)
    parts = [
        f"Data: {source}, split 80/10/10, {split_note}" + (f"; {sizes} images." if sizes else "."),
        f"Command: `{data['command']}`" if data.get("command") else "",
        f"The model kept is the epoch with the best validation accuracy (epoch {run.results.get('best_epoch', 'n/a')}).",
        phases,
        f"Augmentation (training {'landmarks, in 3-D' if run.kind == 'landmarks' else 'images'} only):\n\n" + augmentation if augmentation else "",
    ]
    if run.results.get("train_runtime") is not None:
        parts.append(f"Training took {float(run.results['train_runtime']):.0f} s "
                     f"({run.results.get('train_samples_per_second', 'n/a')} images/s).")
    return "\n\n".join(p for p in parts if p)


def _comparison_section(run: TrainingRun, repo_id: str, other: TrainingRun) -> str:
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


def _landmarks_usage(repo_id: str) -> str:
    return f"""The landmarks come from MediaPipe Hands, so install it first, then load with `trust_remote_code=True` (the
model, its configuration and the MediaPipe image processor ship as code next to the weights):

```bash
pip install "{MEDIAPIPE_REQUIREMENT}"   # the release that bundles the hand models; it needs protobuf<5
```

```python
from transformers import pipeline

classifier = pipeline("image-classification", model="{repo_id}", trust_remote_code=True)
print(classifier("hand.jpg", top_k=3))  # [{{'label': 'nothing', 'score': 1.0}}, ...] when no hand is found
```

To tell "no hand found" apart from the `nothing` sign, read the processor's `hand_found`:

```python
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

processor = AutoImageProcessor.from_pretrained("{repo_id}", trust_remote_code=True)
model = AutoModelForImageClassification.from_pretrained("{repo_id}", trust_remote_code=True).eval()
inputs = processor(Image.open("hand.jpg").convert("RGB"), return_tensors="pt")
if not inputs["hand_found"][0]:
    print("no hand found")
else:
    with torch.no_grad():
        logits = model(**inputs).logits
    print(model.config.id2label[logits.argmax(-1).item()])
```"""


def _usage_section(run: TrainingRun, repo_id: str) -> str:
    if run.kind == "landmarks":
        return _landmarks_usage(repo_id)
    if run.kind == "cnn":
        return f"""The architecture ships as remote code next to the weights, so `trust_remote_code=True` is needed
(read `modeling_asl_cnn.py` first: it is ~100 lines of PyTorch).

```python
from transformers import pipeline

classifier = pipeline("image-classification", model="{repo_id}", trust_remote_code=True)
print(classifier("hand.jpg", top_k=3))
```

```python
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

processor = AutoImageProcessor.from_pretrained("{repo_id}")
model = AutoModelForImageClassification.from_pretrained("{repo_id}", trust_remote_code=True).eval()
inputs = processor(Image.open("hand.jpg").convert("RGB"), return_tensors="pt")
with torch.no_grad():
    logits = model(**inputs).logits
print(model.config.id2label[logits.argmax(-1).item()])
```"""
    return f"""With timm (the saved `config.json` rebuilds the architecture; `pretrained=True` loads *these* weights):

```python
import timm
import torch
from PIL import Image

model = timm.create_model("hf-hub:{repo_id}", pretrained=True).eval()
transform = timm.data.create_transform(**timm.data.resolve_model_data_config(model))
with torch.no_grad():
    logits = model(transform(Image.open("hand.jpg").convert("RGB")).unsqueeze(0))
print(model.pretrained_cfg["label_names"][logits.argmax(-1).item()])
```

With transformers (its `TimmWrapper` loads timm checkpoints, no remote code):

```python
from transformers import pipeline

classifier = pipeline("image-classification", model="{repo_id}")
print(classifier("hand.jpg", top_k=3))
```"""


def _what(run: TrainingRun) -> str:
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
             "brightening for dark photos) until one finds a hand." if attempts > 1 else "")
    mirror = (" At test time the mirrored hand is classified too and each class keeps the larger of the two "
              "probabilities, because MediaPipe's left/right call is wrong on some photos." if config.get("mirror_test_time") else "")
    layers = ", ".join(map(str, config.get("hidden_sizes") or []))
    return (f"Not a network over pixels: MediaPipe Hands (`{MEDIAPIPE_REQUIREMENT}`), run by the saved image processor, finds "
            f"one hand and its {points} landmarks.{tries} The landmarks are normalised for position (wrist at the origin), "
            "scale (largest wrist-to-point distance 1) and handedness (a hand MediaPipe does not call "
            f"`{processor.get('canonical_handedness', 'Left')}`, the training signer's, is mirrored), and a multilayer "
            f"perceptron (hidden layers of {layers} units with BatchNorm, ReLU and dropout {config.get('dropout', 'n/a')}) "
            f"classifies the {points * coordinates} numbers into {num_classes} classes ({params}).{mirror} A photo "
            f"without a hand gets `{config.get('no_hand_label', 'nothing')}` with probability 1 and `hand_found` false, "
            "so it counts as wrong for every letter in the results below.")


def _limitations(run: TrainingRun) -> str:
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


def build_model_card(
    model_dir: str | os.PathLike,
    repo_id: str,
    other_model_dir: str | os.PathLike | None = None,
    dataset_id: str | None = None,
    license: str = "apache-2.0",
) -> ModelCard:
    """The README.md for ``model_dir`` pushed as ``repo_id``: metadata with ``model-index`` + a readable body.

    ``dataset_id`` names the Hub data set the model was evaluated on (default: ``dataset_name`` recorded in
    ``dataset_info.json``); without one the results are reported for a local ``imagefolder``.
    ``other_model_dir`` is another training output folder whose results are put side by side.
    """
    run = TrainingRun(model_dir)
    other = TrainingRun(other_model_dir) if other_model_dir else None
    hub_dataset = dataset_id or run.data_info.get("dataset_name")
    dataset_name = "ASL Alphabet" + ("" if hub_dataset else " (local image folder)")
    title = KIND_TITLES[run.kind]
    data = ModelCardData(
        model_name=repo_id.split("/")[-1],
        license=license,
        library_name="timm" if run.kind == "mobilenetv2" else "transformers",
        pipeline_tag="image-classification",
        tags=["image-classification", "asl", "sign-language", "fingerspelling", "pytorch"] + KIND_TAGS[run.kind],
        datasets=[hub_dataset] if hub_dataset else None,
        metrics=["accuracy", "f1"],
        base_model=IMAGENET_CHECKPOINT if run.pretrained else None,
        eval_results=eval_results(run, hub_dataset or "imagefolder", dataset_name),
    )
    what = _what(run)
    matrices = "\n\n".join(f"![Confusion matrix, {name.split('_')[-1][:-4]} split]({name})" for name in run.confusion_matrices)
    comparison = f"\n## Comparison\n\n{_comparison_section(run, repo_id, other)}\n" if other else ""
    body = f"""
# ASL fingerspelling: {title}

Recognises American Sign Language fingerspelling from a photo of one hand: 29 classes, the letters A-Z plus
`del`, `nothing` and `space`. {what}

Trained and evaluated with the `asl_hf` project (Accelerate training loop, `evaluate` metrics).

## Results

{_results_table(run)}

Accuracy and macro-averaged F1 of the best epoch (chosen on validation); the test split was not used for any choice.

{_extra_evaluations_section(run)}

### Per-class scores (test split)

{_per_class_table(run)}

{matrices}
{comparison}
## Training

{_training_section(run)}

## Limitations

{_limitations(run)}

## Usage

{_usage_section(run, repo_id)}
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")

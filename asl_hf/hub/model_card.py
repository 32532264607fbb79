"""Model cards for trained ASL models, assembled from a training output folder.

The card is the model's documentation on the Hub *and* its machine-readable evaluation (``model-index``), built only
from the files training and evaluation wrote (:class:`~asl_hf.hub.training_run.TrainingRun`), with
``huggingface_hub.ModelCard``/``ModelCardData``/``EvalResult`` producing the metadata the Hub validates. The
sections live in :mod:`asl_hf.hub.card_sections`, the snippets in :mod:`asl_hf.hub.card_usage`, the ``model-index`` in
:mod:`asl_hf.hub.model_index`.
"""

from __future__ import annotations

import os

from huggingface_hub import ModelCard, ModelCardData

from .card_sections import (
    IMAGENET_CHECKPOINT,
    comparison_section,
    extra_evaluations_section,
    calibration_note,
    limitations,
    per_class_table,
    results_table,
    sources_section,
    training_section,
    what,
)
from .card_usage import usage_section
from .model_index import eval_results
from .training_run import KIND_TITLES, ModelFolderError, TrainingRun, detect_model_kind, public_training_args

KIND_TAGS = {"cnn": ["custom-code"], "mobilenetv2": ["mobilenetv2"], "landmarks": ["custom-code", "mediapipe", "hand-landmarks"]}


def card_metadata(run: TrainingRun, repo_id: str, hub_dataset: str | None, license: str) -> ModelCardData:
    """The YAML front matter: library, tags, data set, base model and the ``model-index`` results."""
    dataset_name = "ASL Alphabet" + ("" if hub_dataset else " (local image folder)")
    return ModelCardData(
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


def card_body(run: TrainingRun, repo_id: str, other: TrainingRun | None) -> str:
    """The readable part: what the model is, its results (per source, on other signers, per class), how it was
    trained, its limitations and how to use it."""
    matrices = "\n\n".join(f"![Confusion matrix, {name.split('_')[-1][:-4]} split]({name})" for name in run.confusion_matrices)
    comparison = f"\n## Comparison\n\n{comparison_section(run, repo_id, other)}\n" if other else ""
    return f"""
# ASL fingerspelling: {KIND_TITLES[run.kind]}

Recognises American Sign Language fingerspelling from a photo of one hand: 29 classes, the letters A-Z plus
`del`, `nothing` and `space`. {what(run)}

Trained and evaluated with the `asl_hf` project (Accelerate training loop, `evaluate` metrics).

## Results

{results_table(run)}

Accuracy and macro-averaged F1 of the best epoch (chosen on validation); the test split was not used for any choice.
{calibration_note(run)}

{sources_section(run)}

{extra_evaluations_section(run)}

### Per-class scores (test split)

{per_class_table(run)}

{matrices}
{comparison}
## Training

{training_section(run)}

## Limitations

{limitations(run)}

## Usage

{usage_section(run, repo_id)}
"""


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
    metadata = card_metadata(run, repo_id, dataset_id or run.data_info.get("dataset_name"), license)
    return ModelCard(f"---\n{metadata.to_yaml()}\n---\n{card_body(run, repo_id, other)}")


__all__ = ["KIND_TITLES", "ModelFolderError", "build_model_card", "card_body", "card_metadata", "detect_model_kind", "public_training_args"]

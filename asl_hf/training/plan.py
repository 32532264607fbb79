"""The command line resolved once into what each stage of training needs, and nothing more.

``scripts/train.py``'s flags (named as in the transformers example scripts) are one flat namespace; each stage of a
run needs a few of them. :meth:`TrainingPlan.from_args` reads the namespace once, applies the per-model defaults, and
hands out small frozen parts: the data to load (:class:`DataSpec`), the model to build (:class:`ModelSpec`), its phases
and learning rates (:class:`ScheduleSpec`), the loss and optimiser settings (:class:`OptimSpec`), how inputs are fed
(:class:`InputSpec`, with the augmentation) and where the run writes (:class:`RunSpec`). Stages take their part only,
so nothing below the loop ever sees the whole namespace.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass, field

from .landmark_data import LandmarkAugmentation
from .transforms import AugmentationConfig


@dataclass(frozen=True)
class DataSpec:
    """Where the splits come from: a prepared folder, raw folders (split here) or a Hub data set."""

    dataset_dir: str | None = None
    train_dirs: tuple[str, ...] = ()
    dataset_name: str | None = None
    split_by: str = "random"
    group_size: int = 300
    seed: int = 42
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ModelSpec:
    """Which model to build (``cnn``, ``mobilenetv2``, ``landmarks``, or a saved folder / Hub id to continue)."""

    name: str = "cnn"
    pretrained: bool = True
    """MobileNetV2 starts from ImageNet weights (else random weights, whose BatchNorm statistics then train)."""
    pretrained_weights: str | None = None
    image_size: int | None = None
    dropout: float | None = None
    unfreeze_blocks: int = 3
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ScheduleSpec:
    """Epochs and peak learning rates of the phases (MobileNetV2: head, then the top blocks), and their schedule."""

    epochs: int = 50
    learning_rate: float = 2e-3
    finetune_epochs: int = 0
    finetune_learning_rate: float = 5e-4
    warmup_steps: int | None = None
    scheduler: str = "cosine"
    max_train_steps: int | None = None
    gradient_accumulation_steps: int = 1


@dataclass(frozen=True)
class OptimSpec:
    """The loss and the optimiser's settings beyond the learning rate."""

    weight_decay: float = 0.01
    label_smoothing: float = 0.0
    max_grad_norm: float | None = 1.0


@dataclass(frozen=True)
class InputSpec:
    """How training inputs are made and fed: batch sizes, the fastest input path that fits, the augmentation."""

    train_batch_size: int = 32
    eval_batch_size: int = 128
    preload_images: str = "auto"
    cache_frozen_features: str = "auto"
    feature_cache_views: int = 3
    num_workers: int | None = None
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    landmark_augmentation: LandmarkAugmentation = field(default_factory=LandmarkAugmentation)
    balance_sources: bool = False
    """Draw training examples so that every source (raw folder) carries the same weight, whatever its size."""


@dataclass(frozen=True)
class RunSpec:
    """Where and how the run happens: output folder, resuming, checkpoints, trackers, precision, progress bars."""

    output_dir: str
    overwrite_output_dir: bool = False
    resume_from_checkpoint: str | None = None
    checkpointing_steps: int | str | None = None
    report_to: str = "none"
    project_name: str = "asl_hf"
    mixed_precision: str | None = None
    seed: int = 42
    show_progress: bool = True
    temperature_scaling: bool = True
    """Fit a temperature on validation at the end and fold it into the saved model (calibrated probabilities)."""


@dataclass(frozen=True)
class TrainingPlan:
    data: DataSpec
    model: ModelSpec
    schedule: ScheduleSpec
    optim: OptimSpec
    inputs: InputSpec
    run: RunSpec
    recorded_args: dict = field(default_factory=dict)
    """The command line's values (no token), for ``training_args.json``, the trackers and the model card."""
    command: str = ""
    """The command as typed (token masked), for ``dataset_info.json``."""

    @classmethod
    def from_args(cls, args: argparse.Namespace, argv: list[str] | None = None) -> TrainingPlan:
        """The plan of a run of ``scripts/train.py`` from its parsed (and defaulted) arguments."""
        train_dirs = tuple(args.train_dir or ()) if isinstance(args.train_dir, (list, tuple)) else ((args.train_dir,) if args.train_dir else ())
        argv = sys.argv[1:] if argv is None else argv
        masked = ["***" if args.hub_token and a == args.hub_token else shlex.quote(a) for a in argv]
        return cls(
            data=DataSpec(args.dataset_dir, train_dirs, args.dataset_name, args.split_by, args.group_size, args.seed,
                          args.max_train_samples, args.max_eval_samples, args.hub_token),
            model=ModelSpec(args.model, not args.no_pretrained, args.pretrained_weights, args.image_size, args.dropout,
                            args.unfreeze_blocks, args.hub_token),
            schedule=ScheduleSpec(args.num_train_epochs, args.learning_rate, args.finetune_epochs, args.finetune_learning_rate,
                                  args.num_warmup_steps, args.lr_scheduler_type, args.max_train_steps,
                                  args.gradient_accumulation_steps),
            optim=OptimSpec(args.weight_decay, args.label_smoothing, args.max_grad_norm),
            inputs=InputSpec(args.per_device_train_batch_size, args.per_device_eval_batch_size, args.preload_images,
                             args.cache_frozen_features, args.feature_cache_views, args.dataloader_num_workers,
                             _pixel_augmentation(args), LandmarkAugmentation(args.rotation, args.zoom, args.landmark_noise),
                             args.balance_sources),
            run=RunSpec(args.output_dir, args.overwrite_output_dir, args.resume_from_checkpoint, _checkpointing(args.checkpointing_steps),
                        args.report_to, args.project_name, args.mixed_precision, args.seed, not args.no_progress,
                        not args.no_temperature_scaling),
            recorded_args={k: v for k, v in vars(args).items() if k != "hub_token"},  # never the token (files, trackers)
            command="accelerate launch scripts/train.py " + " ".join(masked),
        )


def _pixel_augmentation(args: argparse.Namespace) -> AugmentationConfig:
    return AugmentationConfig(
        rotation=args.rotation, shift=args.shift, shear=args.shear, zoom=args.zoom,
        brightness=args.color_jitter, contrast=args.color_jitter, saturation=args.color_jitter,
        hue=0.0, horizontal_flip=args.horizontal_flip,
    )


def _checkpointing(value) -> int | str | None:
    return int(value) if str(value).isdigit() else value


__all__ = ["DataSpec", "InputSpec", "ModelSpec", "OptimSpec", "RunSpec", "ScheduleSpec", "TrainingPlan"]

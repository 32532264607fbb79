"""The Accelerate training loop shared by both models: CPU, one GPU or many, no code change.

``accelerate launch scripts/train.py --model cnn ...`` runs this on every process. Accelerate owns
devices, DDP, mixed precision, gradient accumulation, checkpoint state and trackers; this module
owns the phases, evaluation and the output folder.
"""

from __future__ import annotations

import contextlib
import json
import math
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs
from accelerate.utils import ProjectConfiguration, set_seed
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..core.constants import CLASS_NAMES
from ..data import ensure_default_data, load_and_split, load_prepared_dataset
from ..data.prepare import atomic_output_dir
from ..core.errors import AslError, OutputExistsError
from ..models.preprocessing import build_eval_transform, build_normalise_transform, build_resize_transform
from .transforms import AugmentationConfig, batch_transform, build_tensor_train_transform, build_train_transform, collate
from .feature_cache import DEFAULT_MAX_CACHE_BYTES, compute_features, feature_bytes
from .landmark_data import LandmarkAugmentation, LandmarkCollate, extract_landmarks, hand_found_rate
from .model_factory import ModelBundle, build_model_bundle
from .preload import fits_in_memory, preload_split
from .schedule import group_lambdas, phase_at_epoch

CHECKPOINT_DIR = "checkpoints"
BEST_DIR = "best_model"
STATE_FILE = "trainer_state.json"


def load_splits(args, accelerator: Accelerator):
    """The train/validation/test splits from --dataset_dir, --train_dir, --dataset_name or the embedded data."""
    with accelerator.main_process_first():
        if args.dataset_dir:
            splits = load_prepared_dataset(args.dataset_dir)
            source = {"dataset_dir": args.dataset_dir}
        else:
            train_dir, group_size = args.train_dir, args.group_size
            if not (args.train_dir or args.dataset_name):
                train_dir, group_size = str(ensure_default_data()), min(args.group_size, 10)
            splits, _ = load_and_split(train_dir, args.dataset_name, args.seed, args.split_by, group_size, token=args.hub_token)
            source = {"train_dir": train_dir, "dataset_name": args.dataset_name}
    missing = {"train", "validation", "test"} - set(splits)
    if missing:
        raise AslError(f"the data set has no {sorted(missing)} split(s); prepare it with scripts/prepare_data.py")
    if args.max_train_samples:
        splits["train"] = splits["train"].shuffle(seed=args.seed).select(range(min(args.max_train_samples, len(splits["train"]))))
    if args.max_eval_samples:
        for name in ("validation", "test"):
            splits[name] = splits[name].shuffle(seed=args.seed).select(range(min(args.max_eval_samples, len(splits[name]))))
    info = {**source, "dataset_name": args.dataset_name, "split_by": args.split_by, "seed": args.seed,
            "command": "accelerate launch scripts/train.py " + " ".join("***" if args.hub_token and a == args.hub_token else shlex.quote(a) for a in sys.argv[1:])}
    if args.dataset_dir:  # the split was made by prepare_data.py: record how, not this run's (unused) split flags
        made = _read_split_info(Path(args.dataset_dir))
        info.update({key: made[key] for key in ("split_by", "group_size", "seed", "train_dir", "synthetic") if key in made})
    info.update({f"num_{name}": len(splits[name]) for name in ("train", "validation", "test")})
    return splits, info


def _read_split_info(dataset_dir: Path) -> dict:
    path = dataset_dir / "split_info.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def find_latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint (its state file is written last)."""
    folder = output_dir / CHECKPOINT_DIR
    done = [p for p in folder.glob("*") if (p / STATE_FILE).is_file()] if folder.is_dir() else []
    return max(done, key=lambda p: json.loads((p / STATE_FILE).read_text())["global_step"], default=None)


def evaluate_split(
    accelerator: Accelerator, bundle: ModelBundle, model, dataloader, desc: str, show_progress: bool = True,
    autocast: bool = True,
) -> tuple[list[int], list[int], float]:
    """Predictions, references and mean loss over a whole split, exact under DDP (``gather_for_metrics``).

    ``autocast=False`` evaluates in float32 even under mixed precision: the reported scores are those of the saved
    float32 model as users run it."""
    model.eval()
    predictions, references, losses = [], [], []
    for batch in tqdm(dataloader, desc=desc, leave=False, disable=not (show_progress and accelerator.is_local_main_process)):
        with torch.no_grad(), (accelerator.autocast() if autocast else contextlib.nullcontext()):
            logits = bundle.logits(model, batch)
        loss = F.cross_entropy(logits.float(), batch["labels"], reduction="none")
        preds, refs, loss = accelerator.gather_for_metrics((logits.argmax(-1), batch["labels"], loss))
        predictions += preds.tolist()
        references += refs.tolist()
        losses += loss.tolist()
    return predictions, references, sum(losses) / max(1, len(losses))


def _save_checkpoint(accelerator: Accelerator, output_dir: Path, name: str, state: dict) -> None:
    path = output_dir / CHECKPOINT_DIR / name
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    accelerator.wait_for_everyone()


@dataclass
class TrainingData:
    """What the epochs iterate over, and which module they train and evaluate on it."""

    train: Dataset
    evals: dict[str, Dataset]
    module: nn.Module
    """``bundle.model``, or (feature cache) the top of the network that reads the cached features."""
    mode: str
    """"feature cache", "preloaded", "streaming" or "landmarks": where the training inputs come from."""
    num_workers: int
    train_collate: Callable = collate
    eval_collate: Callable = collate


def _augmentation(args) -> AugmentationConfig:
    return AugmentationConfig(
        rotation=args.rotation, shift=args.shift, shear=args.shear, zoom=args.zoom,
        brightness=args.color_jitter, contrast=args.color_jitter, saturation=args.color_jitter,
        hue=0.0, horizontal_flip=args.horizontal_flip,
    )


def _use_feature_cache(args, bundle: ModelBundle, splits, accelerator: Accelerator) -> bool:
    """``auto``: on CPU, when the model has a frozen part with blocks in it and its features fit in memory."""
    if args.cache_frozen_features == "never" or bundle.frozen_prefix is None:
        if args.cache_frozen_features == "always" and bundle.frozen_prefix is None:
            raise AslError(f"--cache_frozen_features always: {bundle.kind} has no part that every phase keeps frozen")
        return False
    if args.cache_frozen_features == "always":
        return True
    if accelerator.device.type != "cpu":
        return False
    images = len(splits["train"]) * args.feature_cache_views + len(splits["validation"]) + len(splits["test"])
    spec = bundle.spec
    return feature_bytes(bundle.frozen_prefix(), (3, spec.height, spec.width), images, 1) <= DEFAULT_MAX_CACHE_BYTES


def _use_preload(args, bundle: ModelBundle, splits) -> bool:
    if args.preload_images != "auto":
        return args.preload_images == "always"
    images = sum(len(splits[name]) for name in ("train", "validation", "test"))
    return fits_in_memory(images, bundle.spec.height, bundle.spec.width)


def build_landmark_data(args, bundle: ModelBundle, splits, accelerator: Accelerator) -> TrainingData:
    """Landmarks of every photo, found once by the model's processor; training keeps the photos with a hand."""
    with accelerator.main_process_first():  # the first process fills the datasets cache, the others read it
        sets = {name: extract_landmarks(splits[name], bundle.processor, f"Finding hands ({name})") for name in ("train", "validation", "test")}
    augmentation = LandmarkAugmentation(args.rotation, args.zoom, args.landmark_noise)
    rates = ", ".join(f"{name} {hand_found_rate(data):.1%}" for name, data in sets.items())
    accelerator.print(f"Hands found: {rates} of the photos (training uses only those; evaluation counts the rest as no-hand)")
    if not sets["train"].hand_found.any():
        raise AslError("the hand detector found no hand in any training photo: the landmark model needs photos of hands")
    evals = {name: sets[name] for name in ("validation", "test")}
    return TrainingData(sets["train"].with_hands(), evals, bundle.model, "landmarks", 0,
                        train_collate=LandmarkCollate(augmentation), eval_collate=LandmarkCollate())


def build_training_data(args, bundle: ModelBundle, splits, accelerator: Accelerator) -> TrainingData:
    """The fastest input path that fits: cached frozen features, preloaded images, or decoding on the fly."""
    if bundle.kind == "landmarks":
        return build_landmark_data(args, bundle, splits, accelerator)
    show = accelerator.is_local_main_process and not args.no_progress
    workers = args.dataloader_num_workers
    train_transform = build_train_transform(bundle.spec, _augmentation(args))
    eval_transform = build_eval_transform(bundle.spec)
    if _use_feature_cache(args, bundle, splits, accelerator):
        prefix = bundle.frozen_prefix().to(accelerator.device)
        cache = lambda ds, views, dtype, desc: compute_features(  # noqa: E731
            prefix, ds, views, args.per_device_train_batch_size, accelerator.device, dtype, desc, show, workers or 0)
        train = cache(splits["train"].with_transform(batch_transform(train_transform)), args.feature_cache_views,
                      torch.float16, f"Caching frozen features ({args.feature_cache_views} augmented views)")
        evals = {name: cache(splits[name].with_transform(batch_transform(eval_transform)), 1, torch.float32, f"Caching {name} features")
                 for name in ("validation", "test")}
        return TrainingData(train, evals, bundle.top_of_network(), "feature cache", 0)
    if _use_preload(args, bundle, splits):
        resize = build_resize_transform(bundle.spec)
        normalise = build_normalise_transform(bundle.spec)
        train = preload_split(splits["train"], resize, build_tensor_train_transform(bundle.spec, _augmentation(args)), "Preloading train", show)
        evals = {name: preload_split(splits[name], resize, normalise, f"Preloading {name}", show) for name in ("validation", "test")}
        return TrainingData(train, evals, bundle.model, "preloaded", 0)
    evals = {name: splits[name].with_transform(batch_transform(eval_transform)) for name in ("validation", "test")}
    train = splits["train"].with_transform(batch_transform(train_transform))
    return TrainingData(train, evals, bundle.model, "streaming", 2 if workers is None else workers)


def _make_accelerator(args, output_dir: Path) -> Accelerator:
    kwargs_handlers = []
    if args.model not in ("cnn", "landmarks"):  # phases change which parameters get gradients; DDP must tolerate unused ones
        kwargs_handlers.append(DistributedDataParallelKwargs(find_unused_parameters=True))
    return Accelerator(
        mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "runs")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        kwargs_handlers=kwargs_handlers,
    )


def _quiet_library_progress_bars() -> None:
    """--no_progress: the libraries' own bars too (saving shards, loading weights, datasets)."""
    import datasets
    import transformers
    from huggingface_hub.utils import disable_progress_bars

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    disable_progress_bars()


def _make_optimiser(args, bundle: ModelBundle):
    group_names = [name for name, params in bundle.groups.items() if params and any(name in p.group_lrs for p in bundle.phases)]
    base_lrs = {name: max(p.group_lrs.get(name, 0.0) for p in bundle.phases) for name in group_names}
    optimizer = torch.optim.AdamW(
        [{"params": bundle.groups[name], "lr": base_lrs[name], "name": name} for name in group_names],
        weight_decay=args.weight_decay,
    )
    return optimizer, group_names, base_lrs


def _resume_state(args, accelerator: Accelerator, output_dir: Path) -> dict:
    state = {"global_step": 0, "epoch": 0, "batches_in_epoch": 0, "best_accuracy": -1.0, "best_epoch": None, "history": [], "samples_seen": 0}
    if not args.resume_from_checkpoint:
        return state
    path = find_latest_checkpoint(output_dir) if args.resume_from_checkpoint == "latest" else Path(args.resume_from_checkpoint)
    if path is None:
        accelerator.print(f"No checkpoint in {output_dir / CHECKPOINT_DIR}; starting from scratch")
        return state
    if not (path / STATE_FILE).is_file():
        raise AslError(f"{path}: not a complete checkpoint (no {STATE_FILE})")
    accelerator.load_state(str(path))
    state = json.loads((path / STATE_FILE).read_text())
    accelerator.print(f"Resumed from {path}: epoch {state['epoch']}, step {state['global_step']}, batch {state['batches_in_epoch']}")
    return state


def _keep_if_best(accelerator: Accelerator, bundle: ModelBundle, output_dir: Path, state: dict, accuracy: float, epoch: int) -> None:
    """Save the model as the best one so far when its validation accuracy is the highest yet."""
    if accuracy <= state["best_accuracy"]:
        return
    state["best_accuracy"], state["best_epoch"] = accuracy, epoch + 1
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with atomic_output_dir(output_dir / BEST_DIR, overwrite=True) as staging:
            bundle.save(bundle.model, staging)


def train(args) -> dict:
    """Train, keep the best epoch by validation accuracy, evaluate it on validation and test, save everything."""
    output_dir = Path(args.output_dir)
    if output_dir.exists() and any(output_dir.iterdir()) and not (args.overwrite_output_dir or args.resume_from_checkpoint):
        raise OutputExistsError(f"{output_dir}: already exists and is not empty (pass --overwrite_output_dir, or --resume_from_checkpoint latest)")
    accelerator = _make_accelerator(args, output_dir)
    if args.no_progress:
        _quiet_library_progress_bars()
    if args.overwrite_output_dir and not args.resume_from_checkpoint and accelerator.is_main_process and output_dir.exists():
        shutil.rmtree(output_dir)
    accelerator.wait_for_everyone()
    set_seed(args.seed)

    # Phase 1: data and model.
    splits, data_info = load_splits(args, accelerator)
    bundle = build_model_bundle(args)
    if bundle.kind == "mobilenetv2" and not args.no_pretrained and args.model == "mobilenetv2":
        from ..models.mobilenet import describe_pretrained_source

        accelerator.print(describe_pretrained_source(pretrained_weights=args.pretrained_weights))
    bundle.model.to(accelerator.device)
    data = build_training_data(args, bundle, splits, accelerator)
    data_info["input_path"] = data.mode
    loader_kwargs = {"num_workers": data.num_workers, "persistent_workers": data.num_workers > 0}
    # drop_last: a last batch of one image would break BatchNorm's batch statistics (the CNN's dense layer)
    train_dl = DataLoader(data.train, batch_size=args.per_device_train_batch_size, shuffle=True, collate_fn=data.train_collate,
                          drop_last=len(data.train) > args.per_device_train_batch_size, **loader_kwargs)
    eval_dls = {name: DataLoader(ds, batch_size=args.per_device_eval_batch_size, collate_fn=data.eval_collate, **loader_kwargs)
                for name, ds in data.evals.items()}

    # Phase 2: optimiser, schedule, Accelerate, trackers, resume.
    optimizer, group_names, base_lrs = _make_optimiser(args, bundle)
    model, optimizer, train_dl, *prepared_eval = accelerator.prepare(data.module, optimizer, train_dl, *eval_dls.values())
    eval_dls = dict(zip(eval_dls, prepared_eval))
    steps_per_epoch = math.ceil(len(train_dl) / args.gradient_accumulation_steps)
    lambdas = group_lambdas(
        bundle.phases, group_names, base_lrs, steps_per_epoch, args.num_warmup_steps, args.lr_scheduler_type,
        ticks_per_step=accelerator.num_processes,
    )
    scheduler = accelerator.prepare(torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas))
    total_epochs = sum(p.epochs for p in bundle.phases)
    total_steps = total_epochs * steps_per_epoch
    if args.max_train_steps:
        total_steps = min(total_steps, args.max_train_steps)
    training_args = {k: v for k, v in vars(args).items() if k != "hub_token"}  # never the token (files, trackers)
    tracker_config = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in training_args.items()}
    accelerator.init_trackers(args.project_name, config=tracker_config)
    state = _resume_state(args, accelerator, output_dir)

    # Phase 3: the epochs.
    accelerator.print(
        f"Training {bundle.kind} ({bundle.num_parameters:,} parameters) on {len(data.train)} of {data_info['num_train']} images ({data.mode}), "
        f"{accelerator.num_processes} process(es) on {accelerator.device}, {total_epochs} epochs "
        f"({' + '.join(f'{p.name}: {p.epochs}' for p in bundle.phases)}), {total_steps} optimiser steps"
    )
    loop = EpochRunner(args, accelerator, bundle, model, optimizer, scheduler, train_dl, eval_dls, state, total_steps, output_dir)
    start_time = time.perf_counter()
    while state["epoch"] < total_epochs and state["global_step"] < total_steps:
        loop.run_epoch(state["epoch"], total_epochs)
    loop.close()
    train_runtime = time.perf_counter() - start_time
    accelerator.wait_for_everyone()

    # Phase 4: the best epoch's weights, evaluated on validation and test, and the output folder.
    bundle.model.load_state_dict(load_file(str(output_dir / BEST_DIR / "model.safetensors")))
    results = {
        "epoch": state["epoch"],
        "best_epoch": state["best_epoch"],
        "train_runtime": round(train_runtime, 2),
        "train_samples_per_second": round(loop.samples_this_run / train_runtime, 2) if train_runtime else None,
        "num_parameters": bundle.num_parameters,
    }
    # landmark model: how many validation/test photos had no hand found (answered with the no-hand label)
    hand_found = {name: ds.hand_found.tolist() for name, ds in data.evals.items()} if data.mode == "landmarks" else {}
    results.update(_final_evaluation(args, accelerator, bundle, model, eval_dls, output_dir, hand_found))
    if accelerator.is_main_process:
        _write_outputs(output_dir, results, {**training_args, **bundle.description}, data_info, state)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return results


class EpochRunner:
    """One epoch at a time: the training steps (phase switches, logging, step checkpoints), then validation."""

    def __init__(self, args, accelerator, bundle, model, optimizer, scheduler, train_dl, eval_dls, state, total_steps, output_dir):
        self.args, self.accelerator, self.bundle, self.model = args, accelerator, bundle, model
        self.optimizer, self.scheduler, self.train_dl, self.eval_dls = optimizer, scheduler, train_dl, eval_dls
        self.state, self.total_steps, self.output_dir = state, total_steps, output_dir
        self.samples_this_run = 0
        self.checkpoint_every = int(args.checkpointing_steps) if str(args.checkpointing_steps).isdigit() else None
        self.progress = tqdm(total=total_steps, initial=state["global_step"], desc="Training",
                             disable=not accelerator.is_local_main_process or args.no_progress)

    def run_epoch(self, epoch: int, total_epochs: int) -> None:
        _, phase = phase_at_epoch(self.bundle.phases, epoch)
        self.bundle.enter_phase(phase)
        self.bundle.train_mode(self.model)
        train_loss = self._train_steps(epoch, phase.name)
        self._validate(epoch, total_epochs, phase.name, train_loss)
        self.state["epoch"], self.state["batches_in_epoch"] = epoch + 1, 0
        if self.args.checkpointing_steps == "epoch":
            _save_checkpoint(self.accelerator, self.output_dir, f"epoch_{epoch + 1}", self.state)
        self.bundle.train_mode(self.model)

    def _train_steps(self, epoch: int, phase_name: str) -> float:
        args, accelerator, state = self.args, self.accelerator, self.state
        self.train_dl.set_epoch(epoch)
        skip = state["batches_in_epoch"]
        batches = accelerator.skip_first_batches(self.train_dl, skip) if skip else self.train_dl
        running_loss, running_count = 0.0, 0
        for batch in batches:
            with accelerator.accumulate(self.model):
                with accelerator.autocast():
                    logits = self.bundle.logits(self.model, batch)
                loss = F.cross_entropy(logits.float(), batch["labels"], label_smoothing=args.label_smoothing)
                accelerator.backward(loss)
                if accelerator.sync_gradients and args.max_grad_norm:
                    accelerator.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], args.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
            state["batches_in_epoch"] += 1
            count = batch["labels"].shape[0] * accelerator.num_processes
            self.samples_this_run += count
            state["samples_seen"] += count
            running_loss += loss.item()
            running_count += 1
            if accelerator.sync_gradients:
                self._after_step(epoch, phase_name, running_loss / running_count)
                if state["global_step"] >= self.total_steps:
                    break
        return running_loss / max(1, running_count)

    def _after_step(self, epoch: int, phase_name: str, mean_loss: float) -> None:
        state = self.state
        state["global_step"] += 1
        self.progress.update(1)
        if state["global_step"] % 10 == 0 or state["global_step"] == 1:
            lrs = {f"lr/{g['name']}": g["lr"] for g in self.optimizer.param_groups}
            self.accelerator.log({"train/loss": mean_loss, **lrs, "epoch": epoch}, step=state["global_step"])
            self.progress.set_postfix(loss=f"{mean_loss:.3f}", phase=phase_name)
        if self.checkpoint_every and state["global_step"] % self.checkpoint_every == 0:
            _save_checkpoint(self.accelerator, self.output_dir, f"step_{state['global_step']}", state)

    def _validate(self, epoch: int, total_epochs: int, phase_name: str, train_loss: float) -> None:
        predictions, references, val_loss = evaluate_split(
            self.accelerator, self.bundle, self.model, self.eval_dls["validation"], "Validating", not self.args.no_progress)
        accuracy = sum(p == r for p, r in zip(predictions, references)) / max(1, len(references))
        record = {"epoch": epoch + 1, "phase": phase_name, "step": self.state["global_step"], "train_loss": train_loss,
                  "eval_loss": val_loss, "eval_accuracy": accuracy}
        self.state["history"].append(record)
        self.accelerator.log({"eval/loss": val_loss, "eval/accuracy": accuracy, "train/epoch_loss": train_loss}, step=self.state["global_step"])
        self.accelerator.print(f"epoch {epoch + 1}/{total_epochs} [{phase_name}] train_loss {train_loss:.4f} "
                               f"eval_loss {val_loss:.4f} eval_accuracy {accuracy:.4f}")
        _keep_if_best(self.accelerator, self.bundle, self.output_dir, self.state, accuracy, epoch)

    def close(self) -> None:
        self.progress.close()


def _final_evaluation(args, accelerator: Accelerator, bundle: ModelBundle, model, eval_dls, output_dir: Path,
                      hand_found: dict[str, list[bool]]) -> dict:
    from ..evaluation.scoring import compute_classification_metrics, write_split_report

    results = {}
    model = accelerator.unwrap_model(model, keep_fp32_wrapper=False)  # float32, as the saved model runs for users
    for split, prefix in (("validation", "eval"), ("test", "test")):
        predictions, references, loss = evaluate_split(accelerator, bundle, model, eval_dls[split], f"Evaluating {split}",
                                                       not args.no_progress, autocast=False)
        if accelerator.is_main_process:
            metrics = compute_classification_metrics(predictions, references, CLASS_NAMES)
            results.update(write_split_report(output_dir, split, metrics, prefix, hand_found.get(split)))
            results[f"{prefix}_loss"] = round(loss, 6)
    return results


def _write_outputs(output_dir: Path, results: dict, training_args: dict, data_info: dict, state: dict) -> None:
    from ..evaluation.scoring import write_results_json

    for item in (output_dir / BEST_DIR).iterdir():
        shutil.copy2(item, output_dir / item.name)
    write_results_json(output_dir, results)
    (output_dir / "training_args.json").write_text(json.dumps(training_args, indent=2) + "\n")
    (output_dir / "dataset_info.json").write_text(json.dumps(data_info, indent=2) + "\n")
    (output_dir / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")

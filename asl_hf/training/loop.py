"""The Accelerate training loop shared by both models: CPU, one GPU or many, no code change.

``accelerate launch scripts/train.py --model cnn ...`` runs this on every process. Accelerate owns
devices, DDP, mixed precision, gradient accumulation, checkpoint state and trackers; this module
owns the phases, evaluation and the output folder.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs
from accelerate.utils import ProjectConfiguration, set_seed
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..constants import CLASS_NAMES
from ..data import ensure_default_data, load_and_split, load_prepared_dataset
from ..data.prepare import atomic_output_dir
from ..errors import AslError, OutputExistsError
from ..transforms import AugmentationConfig, batch_transform, build_eval_transform, build_train_transform, collate
from .model_factory import ModelBundle, build_model_bundle
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
    info = {**source, "dataset_name": args.dataset_name, "split_by": args.split_by, "seed": args.seed}
    info.update({f"num_{name}": len(splits[name]) for name in ("train", "validation", "test")})
    return splits, info


def find_latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint (its state file is written last)."""
    folder = output_dir / CHECKPOINT_DIR
    done = [p for p in folder.glob("*") if (p / STATE_FILE).is_file()] if folder.is_dir() else []
    return max(done, key=lambda p: json.loads((p / STATE_FILE).read_text())["global_step"], default=None)


def evaluate_split(
    accelerator: Accelerator, bundle: ModelBundle, model, dataloader, desc: str, show_progress: bool = True
) -> tuple[list[int], list[int], float]:
    """Predictions, references and mean loss over a whole split, exact under DDP (``gather_for_metrics``)."""
    model.eval()
    predictions, references, losses = [], [], []
    for batch in tqdm(dataloader, desc=desc, leave=False, disable=not (show_progress and accelerator.is_local_main_process)):
        with torch.no_grad(), accelerator.autocast():
            logits = bundle.logits(model, batch["pixel_values"])
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


def train(args) -> dict:
    """Train, keep the best epoch by validation accuracy, evaluate it on validation and test, save everything."""
    from ..evaluation import compute_classification_metrics, write_results_json, write_split_report

    output_dir = Path(args.output_dir)
    if output_dir.exists() and any(output_dir.iterdir()) and not (args.overwrite_output_dir or args.resume_from_checkpoint):
        raise OutputExistsError(f"{output_dir}: already exists and is not empty (pass --overwrite_output_dir, or --resume_from_checkpoint latest)")

    kwargs_handlers = []
    if args.model != "cnn":  # phases change which parameters get gradients; DDP must tolerate unused ones
        kwargs_handlers.append(DistributedDataParallelKwargs(find_unused_parameters=True))
    accelerator = Accelerator(
        mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "runs")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        kwargs_handlers=kwargs_handlers,
    )
    if args.no_progress:  # the libraries' own bars too (saving shards, loading weights, datasets)
        import datasets
        import transformers
        from huggingface_hub.utils import disable_progress_bars

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
        disable_progress_bars()
    if args.overwrite_output_dir and not args.resume_from_checkpoint and accelerator.is_main_process and output_dir.exists():
        shutil.rmtree(output_dir)
    accelerator.wait_for_everyone()
    set_seed(args.seed)

    splits, data_info = load_splits(args, accelerator)
    bundle = build_model_bundle(args)
    model = bundle.model
    augmentation = AugmentationConfig(
        rotation=args.rotation, shift=args.shift, shear=args.shear, zoom=args.zoom,
        brightness=args.color_jitter, contrast=args.color_jitter, saturation=args.color_jitter,
        hue=0.0, horizontal_flip=args.horizontal_flip,
    )
    train_ds = splits["train"].with_transform(batch_transform(build_train_transform(bundle.spec, augmentation)))
    eval_transform = batch_transform(build_eval_transform(bundle.spec))
    eval_sets = {name: splits[name].with_transform(eval_transform) for name in ("validation", "test")}
    loader_kwargs = {"collate_fn": collate, "num_workers": args.dataloader_num_workers, "persistent_workers": args.dataloader_num_workers > 0}
    train_dl = DataLoader(train_ds, batch_size=args.per_device_train_batch_size, shuffle=True, **loader_kwargs)
    eval_dls = {name: DataLoader(ds, batch_size=args.per_device_eval_batch_size, **loader_kwargs) for name, ds in eval_sets.items()}

    group_names = [name for name, params in bundle.groups.items() if params and any(name in p.group_lrs for p in bundle.phases)]
    base_lrs = {name: max(p.group_lrs.get(name, 0.0) for p in bundle.phases) for name in group_names}
    optimizer = torch.optim.AdamW(
        [{"params": bundle.groups[name], "lr": base_lrs[name], "name": name} for name in group_names],
        weight_decay=args.weight_decay,
    )
    model, optimizer, train_dl, *prepared_eval = accelerator.prepare(model, optimizer, train_dl, *eval_dls.values())
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

    state = {"global_step": 0, "epoch": 0, "batches_in_epoch": 0, "best_accuracy": -1.0, "best_epoch": None, "history": [], "samples_seen": 0}
    if args.resume_from_checkpoint:
        path = find_latest_checkpoint(output_dir) if args.resume_from_checkpoint == "latest" else Path(args.resume_from_checkpoint)
        if path is None:
            accelerator.print(f"No checkpoint in {output_dir / CHECKPOINT_DIR}; starting from scratch")
        else:
            if not (path / STATE_FILE).is_file():
                raise AslError(f"{path}: not a complete checkpoint (no {STATE_FILE})")
            accelerator.load_state(str(path))
            state = json.loads((path / STATE_FILE).read_text())
            accelerator.print(f"Resumed from {path}: epoch {state['epoch']}, step {state['global_step']}, batch {state['batches_in_epoch']}")

    accelerator.print(
        f"Training {bundle.kind} ({bundle.num_parameters:,} parameters) on {data_info['num_train']} images, "
        f"{accelerator.num_processes} process(es) on {accelerator.device}, {total_epochs} epochs "
        f"({' + '.join(f'{p.name}: {p.epochs}' for p in bundle.phases)}), {total_steps} optimiser steps"
    )
    progress = tqdm(total=total_steps, initial=state["global_step"], desc="Training", disable=not accelerator.is_local_main_process or args.no_progress)
    checkpoint_every = int(args.checkpointing_steps) if str(args.checkpointing_steps).isdigit() else None
    start_time = time.perf_counter()
    samples_this_run = 0

    epoch = state["epoch"]
    while epoch < total_epochs and state["global_step"] < total_steps:
        phase_index, phase = phase_at_epoch(bundle.phases, epoch)
        bundle.enter_phase(phase)
        bundle.train_mode(model)
        train_dl.set_epoch(epoch)
        skip = state["batches_in_epoch"]
        batches = accelerator.skip_first_batches(train_dl, skip) if skip else train_dl
        running_loss, running_count = 0.0, 0
        for batch in batches:
            with accelerator.accumulate(model):
                with accelerator.autocast():
                    logits = bundle.logits(model, batch["pixel_values"])
                loss = F.cross_entropy(logits.float(), batch["labels"], label_smoothing=args.label_smoothing)
                accelerator.backward(loss)
                if accelerator.sync_gradients and args.max_grad_norm:
                    accelerator.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            state["batches_in_epoch"] += 1
            count = batch["labels"].shape[0] * accelerator.num_processes
            samples_this_run += count
            state["samples_seen"] += count
            running_loss += loss.item()
            running_count += 1
            if accelerator.sync_gradients:
                state["global_step"] += 1
                progress.update(1)
                if state["global_step"] % 10 == 0 or state["global_step"] == 1:
                    lrs = {f"lr/{g['name']}": g["lr"] for g in optimizer.param_groups}
                    accelerator.log({"train/loss": running_loss / running_count, **lrs, "epoch": epoch}, step=state["global_step"])
                    progress.set_postfix(loss=f"{running_loss / running_count:.3f}", phase=phase.name)
                if checkpoint_every and state["global_step"] % checkpoint_every == 0:
                    _save_checkpoint(accelerator, output_dir, f"step_{state['global_step']}", state)
                if state["global_step"] >= total_steps:
                    break

        predictions, references, val_loss = evaluate_split(accelerator, bundle, model, eval_dls["validation"], "Validating", not args.no_progress)
        accuracy = sum(p == r for p, r in zip(predictions, references)) / max(1, len(references))
        record = {"epoch": epoch + 1, "phase": phase.name, "step": state["global_step"], "train_loss": running_loss / max(1, running_count),
                  "eval_loss": val_loss, "eval_accuracy": accuracy}
        state["history"].append(record)
        accelerator.log({"eval/loss": val_loss, "eval/accuracy": accuracy, "train/epoch_loss": record["train_loss"]}, step=state["global_step"])
        accelerator.print(f"epoch {epoch + 1}/{total_epochs} [{phase.name}] train_loss {record['train_loss']:.4f} "
                          f"eval_loss {val_loss:.4f} eval_accuracy {accuracy:.4f}")
        if accuracy > state["best_accuracy"]:
            state["best_accuracy"], state["best_epoch"] = accuracy, epoch + 1
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                with atomic_output_dir(output_dir / BEST_DIR, overwrite=True) as staging:
                    bundle.save(accelerator.unwrap_model(model), staging)
        epoch += 1
        state["epoch"], state["batches_in_epoch"] = epoch, 0
        if args.checkpointing_steps == "epoch":
            _save_checkpoint(accelerator, output_dir, f"epoch_{epoch}", state)
        bundle.train_mode(model)
    progress.close()
    train_runtime = time.perf_counter() - start_time
    accelerator.wait_for_everyone()

    # The final model is the best epoch's: reload its weights and evaluate them on validation and test.
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.load_state_dict(load_file(str(output_dir / BEST_DIR / "model.safetensors")))
    results = {
        "epoch": state["epoch"],
        "best_epoch": state["best_epoch"],
        "train_runtime": round(train_runtime, 2),
        "train_samples_per_second": round(samples_this_run / train_runtime, 2) if train_runtime else None,
        "num_parameters": bundle.num_parameters,
    }
    for split, prefix in (("validation", "eval"), ("test", "test")):
        predictions, references, loss = evaluate_split(accelerator, bundle, model, eval_dls[split], f"Evaluating {split}", not args.no_progress)
        if accelerator.is_main_process:
            metrics = compute_classification_metrics(predictions, references, CLASS_NAMES)
            results.update(write_split_report(output_dir, split, metrics, prefix))
            results[f"{prefix}_loss"] = round(loss, 6)
    if accelerator.is_main_process:
        for item in (output_dir / BEST_DIR).iterdir():
            shutil.copy2(item, output_dir / item.name)
        write_results_json(output_dir, results)
        (output_dir / "training_args.json").write_text(json.dumps({**training_args, **bundle.description}, indent=2) + "\n")
        (output_dir / "dataset_info.json").write_text(json.dumps(data_info, indent=2) + "\n")
        (output_dir / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return results

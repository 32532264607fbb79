"""The Accelerate training loop shared by every model: CPU, one GPU or many, no code change.

``accelerate launch scripts/train.py --model cnn ...`` runs :func:`train` on every process. Accelerate owns devices,
DDP, mixed precision, gradient accumulation, checkpoint state and trackers; this module owns the run's phases: start
the run, load the data and build the model, prepare the optimiser, run the epochs, evaluate the best epoch, write the
output folder. Each phase takes only its part of the :class:`~asl_hf.training.plan.TrainingPlan`.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs
from accelerate.utils import ProjectConfiguration, set_seed
from safetensors.torch import load_file
from torch.utils.data import DataLoader, WeightedRandomSampler
from tqdm.auto import tqdm

from ..core.constants import CLASS_NAMES
from ..core.errors import AslError, OutputExistsError
from ..data.prepare import atomic_output_dir
from ..evaluation.scoring import source_names
from ..inference.onnx_export import export_trained_model
from .inputs import TrainingData, build_training_data
from .model_factory import ModelBundle, build_model_bundle
from .plan import InputSpec, OptimSpec, RunSpec, ScheduleSpec, TrainingPlan
from .schedule import group_lambdas, phase_at_epoch
from .splits import load_splits

CHECKPOINT_DIR = "checkpoints"
BEST_DIR = "best_model"
STATE_FILE = "trainer_state.json"


# --- Starting the run ---------------------------------------------------------------------------------------------
def _quiet_library_progress_bars() -> None:
    """--no_progress: the libraries' own bars too (saving shards, loading weights, datasets)."""
    import datasets
    import transformers
    from huggingface_hub.utils import disable_progress_bars

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    disable_progress_bars()


def start_run(run: RunSpec, schedule: ScheduleSpec, model_name: str) -> Accelerator:
    """The Accelerator of this run, after checking (and with --overwrite_output_dir, clearing) the output folder."""
    output_dir = Path(run.output_dir)
    if output_dir.exists() and any(output_dir.iterdir()) and not (run.overwrite_output_dir or run.resume_from_checkpoint):
        raise OutputExistsError(f"{output_dir}: already exists and is not empty (pass --overwrite_output_dir, or --resume_from_checkpoint latest)")
    handlers = []
    if model_name not in ("cnn", "landmarks"):  # phases change which parameters get gradients; DDP must tolerate unused ones
        handlers.append(DistributedDataParallelKwargs(find_unused_parameters=True))
    accelerator = Accelerator(
        mixed_precision=run.mixed_precision,
        gradient_accumulation_steps=schedule.gradient_accumulation_steps,
        log_with=None if run.report_to == "none" else run.report_to,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "runs")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        kwargs_handlers=handlers,
    )
    if not run.show_progress:
        _quiet_library_progress_bars()
    if run.overwrite_output_dir and not run.resume_from_checkpoint and accelerator.is_main_process and output_dir.exists():
        shutil.rmtree(output_dir)
    accelerator.wait_for_everyone()
    set_seed(run.seed)
    return accelerator


def data_loaders(data: TrainingData, inputs: InputSpec, seed: int) -> tuple[DataLoader, dict[str, DataLoader]]:
    """Training batches (shuffled, or drawn by source-balancing weights) and evaluation batches (in split order)."""
    loader_kwargs = {"num_workers": data.num_workers, "persistent_workers": data.num_workers > 0}
    order = {"shuffle": True}
    if data.train_weights is not None:
        generator = torch.Generator().manual_seed(seed)
        order = {"sampler": WeightedRandomSampler(data.train_weights, len(data.train), replacement=True, generator=generator)}
    # drop_last: a last batch of one image would break BatchNorm's batch statistics (the CNN's dense layer)
    train = DataLoader(data.train, batch_size=inputs.train_batch_size, collate_fn=data.train_collate,
                       drop_last=len(data.train) > inputs.train_batch_size, **order, **loader_kwargs)
    evals = {name: DataLoader(ds, batch_size=inputs.eval_batch_size, collate_fn=data.eval_collate, **loader_kwargs)
             for name, ds in data.evals.items()}
    return train, evals


# --- Optimiser, schedule, resume ------------------------------------------------------------------------------------
def make_optimiser(optim: OptimSpec, bundle: ModelBundle):
    """AdamW with one parameter group per part of the model that some phase trains."""
    group_names = [name for name, params in bundle.groups.items() if params and any(name in p.group_lrs for p in bundle.phases)]
    base_lrs = {name: max(p.group_lrs.get(name, 0.0) for p in bundle.phases) for name in group_names}
    optimizer = torch.optim.AdamW(
        [{"params": bundle.groups[name], "lr": base_lrs[name], "name": name} for name in group_names],
        weight_decay=optim.weight_decay,
    )
    return optimizer, group_names, base_lrs


def find_latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint (its state file is written last)."""
    folder = output_dir / CHECKPOINT_DIR
    done = [p for p in folder.glob("*") if (p / STATE_FILE).is_file()] if folder.is_dir() else []
    return max(done, key=lambda p: json.loads((p / STATE_FILE).read_text())["global_step"], default=None)


def _save_checkpoint(accelerator: Accelerator, output_dir: Path, name: str, state: dict) -> None:
    path = output_dir / CHECKPOINT_DIR / name
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    accelerator.wait_for_everyone()


def resume_state(run: RunSpec, accelerator: Accelerator) -> dict:
    """A fresh loop state, or the one of the checkpoint --resume_from_checkpoint names (``latest``: the newest)."""
    state = {"global_step": 0, "epoch": 0, "batches_in_epoch": 0, "best_accuracy": -1.0, "best_epoch": None, "history": [], "samples_seen": 0}
    if not run.resume_from_checkpoint:
        return state
    output_dir = Path(run.output_dir)
    path = find_latest_checkpoint(output_dir) if run.resume_from_checkpoint == "latest" else Path(run.resume_from_checkpoint)
    if path is None:
        accelerator.print(f"No checkpoint in {output_dir / CHECKPOINT_DIR}; starting from scratch")
        return state
    if not (path / STATE_FILE).is_file():
        raise AslError(f"{path}: not a complete checkpoint (no {STATE_FILE})")
    accelerator.load_state(str(path))
    state = json.loads((path / STATE_FILE).read_text())
    accelerator.print(f"Resumed from {path}: epoch {state['epoch']}, step {state['global_step']}, batch {state['batches_in_epoch']}")
    return state


@dataclass
class Prepared:
    """Everything the epochs run with, after ``accelerator.prepare``."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    train_dl: DataLoader
    eval_dls: dict[str, DataLoader]
    total_epochs: int
    total_steps: int


def prepare(accelerator: Accelerator, bundle: ModelBundle, data: TrainingData, plan: TrainingPlan) -> Prepared:
    """Optimiser, data loaders and the per-phase learning-rate schedule, prepared by Accelerate."""
    train_dl, eval_dls = data_loaders(data, plan.inputs, plan.run.seed)
    optimizer, group_names, base_lrs = make_optimiser(plan.optim, bundle)
    model, optimizer, train_dl, *prepared_eval = accelerator.prepare(data.module, optimizer, train_dl, *eval_dls.values())
    schedule = plan.schedule
    steps_per_epoch = math.ceil(len(train_dl) / schedule.gradient_accumulation_steps)
    lambdas = group_lambdas(bundle.phases, group_names, base_lrs, steps_per_epoch, schedule.warmup_steps, schedule.scheduler,
                            ticks_per_step=accelerator.num_processes)
    scheduler = accelerator.prepare(torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas))
    total_epochs = sum(p.epochs for p in bundle.phases)
    total_steps = min(total_epochs * steps_per_epoch, schedule.max_train_steps or math.inf)
    return Prepared(model, optimizer, scheduler, train_dl, dict(zip(eval_dls, prepared_eval)), total_epochs, int(total_steps))


# --- Evaluation -------------------------------------------------------------------------------------------------------
@dataclass
class SplitOutputs:
    """A whole split's logits (float32, CPU, in the split's order) and true labels."""

    logits: torch.Tensor
    references: torch.Tensor

    @property
    def predictions(self) -> list[int]:
        return self.logits.argmax(-1).tolist()

    @property
    def confidences(self) -> list[float]:
        """The probability of each predicted label (what a calibration error is computed from)."""
        return self.logits.softmax(-1).max(-1).values.tolist()

    @property
    def accuracy(self) -> float:
        return float((self.logits.argmax(-1) == self.references).float().mean()) if len(self.references) else 0.0

    @property
    def loss(self) -> float:
        """Mean cross-entropy (no label smoothing): the negative log-likelihood a temperature is fitted to."""
        return float(F.cross_entropy(self.logits, self.references)) if len(self.references) else 0.0


def evaluate_split(
    accelerator: Accelerator, bundle: ModelBundle, model, dataloader, desc: str, show_progress: bool = True,
    autocast: bool = True,
) -> SplitOutputs:
    """Logits and references over a whole split, exact and in order under DDP (``gather_for_metrics``).

    ``autocast=False`` evaluates in float32 even under mixed precision: the reported scores are those of the saved
    float32 model as users run it."""
    model.eval()
    logits, references = [], []
    for batch in tqdm(dataloader, desc=desc, leave=False, disable=not (show_progress and accelerator.is_local_main_process)):
        with torch.no_grad(), (accelerator.autocast() if autocast else contextlib.nullcontext()):
            batch_logits = bundle.logits(model, batch).float()
        batch_logits, batch_refs = accelerator.gather_for_metrics((batch_logits, batch["labels"]))
        logits.append(batch_logits.cpu())
        references.append(batch_refs.cpu())
    if not logits:
        return SplitOutputs(torch.empty(0, len(CLASS_NAMES)), torch.empty(0, dtype=torch.long))
    return SplitOutputs(torch.cat(logits), torch.cat(references))


def _keep_if_best(accelerator: Accelerator, bundle: ModelBundle, output_dir: Path, state: dict, accuracy: float, epoch: int) -> None:
    """Save the model as the best one so far when its validation accuracy is the highest yet."""
    if accuracy <= state["best_accuracy"]:
        return
    state["best_accuracy"], state["best_epoch"] = accuracy, epoch + 1
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with atomic_output_dir(output_dir / BEST_DIR, overwrite=True) as staging:
            bundle.save(bundle.model, staging)


# --- The epochs -------------------------------------------------------------------------------------------------------
class EpochRunner:
    """One epoch at a time: the training steps (phase switches, logging, step checkpoints), then validation."""

    def __init__(self, plan: TrainingPlan, accelerator: Accelerator, bundle: ModelBundle, prepared: Prepared, state: dict):
        self.optim, self.run = plan.optim, plan.run
        self.accelerator, self.bundle, self.prepared, self.state = accelerator, bundle, prepared, state
        self.model = prepared.model
        self.output_dir = Path(plan.run.output_dir)
        self.samples_this_run = 0
        every = plan.run.checkpointing_steps
        self.checkpoint_every = every if isinstance(every, int) else None
        self.progress = tqdm(total=prepared.total_steps, initial=state["global_step"], desc="Training",
                             disable=not accelerator.is_local_main_process or not plan.run.show_progress)

    def run_all(self) -> float:
        """Every remaining epoch; returns the seconds spent."""
        start = time.perf_counter()
        while self.state["epoch"] < self.prepared.total_epochs and self.state["global_step"] < self.prepared.total_steps:
            self.run_epoch(self.state["epoch"])
        self.progress.close()
        return time.perf_counter() - start

    def run_epoch(self, epoch: int) -> None:
        _, phase = phase_at_epoch(self.bundle.phases, epoch)
        self.bundle.enter_phase(phase)
        self.bundle.train_mode(self.model)
        train_loss = self._train_steps(epoch, phase.name)
        self._validate(epoch, phase.name, train_loss)
        self.state["epoch"], self.state["batches_in_epoch"] = epoch + 1, 0
        if self.run.checkpointing_steps == "epoch":
            _save_checkpoint(self.accelerator, self.output_dir, f"epoch_{epoch + 1}", self.state)
        self.bundle.train_mode(self.model)

    def _step(self, batch) -> torch.Tensor:
        """Forward, loss, backward and (when gradients sync) one optimiser and scheduler step."""
        accelerator, prepared = self.accelerator, self.prepared
        with accelerator.accumulate(self.model):
            with accelerator.autocast():
                logits = self.bundle.logits(self.model, batch)
            loss = F.cross_entropy(logits.float(), batch["labels"], label_smoothing=self.optim.label_smoothing)
            accelerator.backward(loss)
            if accelerator.sync_gradients and self.optim.max_grad_norm:
                accelerator.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], self.optim.max_grad_norm)
            prepared.optimizer.step()
            prepared.scheduler.step()
            prepared.optimizer.zero_grad(set_to_none=True)
        return loss

    def _train_steps(self, epoch: int, phase_name: str) -> float:
        accelerator, state = self.accelerator, self.state
        self.prepared.train_dl.set_epoch(epoch)
        skip = state["batches_in_epoch"]
        batches = accelerator.skip_first_batches(self.prepared.train_dl, skip) if skip else self.prepared.train_dl
        running_loss, running_count = 0.0, 0
        for batch in batches:
            loss = self._step(batch)
            state["batches_in_epoch"] += 1
            count = batch["labels"].shape[0] * accelerator.num_processes
            self.samples_this_run += count
            state["samples_seen"] += count
            running_loss += loss.item()
            running_count += 1
            if accelerator.sync_gradients:
                self._after_step(epoch, phase_name, running_loss / running_count)
                if state["global_step"] >= self.prepared.total_steps:
                    break
        return running_loss / max(1, running_count)

    def _after_step(self, epoch: int, phase_name: str, mean_loss: float) -> None:
        state = self.state
        state["global_step"] += 1
        self.progress.update(1)
        if state["global_step"] % 10 == 0 or state["global_step"] == 1:
            lrs = {f"lr/{g['name']}": g["lr"] for g in self.prepared.optimizer.param_groups}
            self.accelerator.log({"train/loss": mean_loss, **lrs, "epoch": epoch}, step=state["global_step"])
            self.progress.set_postfix(loss=f"{mean_loss:.3f}", phase=phase_name)
        if self.checkpoint_every and state["global_step"] % self.checkpoint_every == 0:
            _save_checkpoint(self.accelerator, self.output_dir, f"step_{state['global_step']}", state)

    def _validate(self, epoch: int, phase_name: str, train_loss: float) -> None:
        outputs = evaluate_split(
            self.accelerator, self.bundle, self.model, self.prepared.eval_dls["validation"], "Validating", self.run.show_progress)
        accuracy, val_loss = outputs.accuracy, outputs.loss
        record = {"epoch": epoch + 1, "phase": phase_name, "step": self.state["global_step"], "train_loss": train_loss,
                  "eval_loss": val_loss, "eval_accuracy": accuracy}
        self.state["history"].append(record)
        self.accelerator.log({"eval/loss": val_loss, "eval/accuracy": accuracy, "train/epoch_loss": train_loss}, step=self.state["global_step"])
        self.accelerator.print(f"epoch {epoch + 1}/{self.prepared.total_epochs} [{phase_name}] train_loss {train_loss:.4f} "
                               f"eval_loss {val_loss:.4f} eval_accuracy {accuracy:.4f}")
        _keep_if_best(self.accelerator, self.bundle, self.output_dir, self.state, accuracy, epoch)


# --- The best epoch, calibrated, evaluated and written ---------------------------------------------------------------
def load_best(accelerator: Accelerator, bundle: ModelBundle, prepared: Prepared, output_dir: Path) -> torch.nn.Module:
    """The best epoch's weights in the bundle's model; returns the module to evaluate in float32."""
    bundle.model.load_state_dict(load_file(str(output_dir / BEST_DIR / "model.safetensors")))
    return accelerator.unwrap_model(prepared.model, keep_fp32_wrapper=False)  # float32, as the saved model runs for users


def calibrate(accelerator: Accelerator, bundle: ModelBundle, model, prepared: Prepared, output_dir: Path, show_progress: bool) -> dict:
    """Fit a temperature on the validation split, fold it into the model's last layer and save the best model again."""
    from .temperature import fit_temperature

    def validation_nll() -> float:
        return evaluate_split(accelerator, bundle, model, prepared.eval_dls["validation"], "Fitting temperature", False, autocast=False).loss

    temperature, before, after = fit_temperature(bundle.head(), validation_nll)
    accelerator.print(f"Temperature {temperature:.3g} fitted on validation (negative log-likelihood {before:.4f} -> {after:.4f})")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with atomic_output_dir(output_dir / BEST_DIR, overwrite=True) as staging:
            bundle.save(bundle.model, staging)
    return {"temperature": round(temperature, 4), "eval_nll_before_temperature": round(before, 6), "eval_nll": round(after, 6)}


def final_evaluation(accelerator: Accelerator, bundle: ModelBundle, model, prepared: Prepared, output_dir: Path,
                     data: TrainingData, sources: dict[str, list[str] | None], show_progress: bool) -> dict:
    """The model scored on validation and test in float32 (accuracy, macro-F1, calibration error, per source), with the
    report files written."""
    from ..evaluation import accuracy_by_source, compute_classification_metrics, write_split_report

    results = {}
    hand_found = data.hand_found()
    for split, prefix in (("validation", "eval"), ("test", "test")):
        outputs = evaluate_split(accelerator, bundle, model, prepared.eval_dls[split], f"Evaluating {split}", show_progress, autocast=False)
        if accelerator.is_main_process:
            metrics = compute_classification_metrics(outputs.predictions, outputs.references.tolist(), CLASS_NAMES, outputs.confidences)
            per_source = accuracy_by_source(outputs.predictions, outputs.references.tolist(), sources.get(split))
            results.update(write_split_report(output_dir, split, metrics, prefix, hand_found.get(split), per_source))
            results[f"{prefix}_loss"] = round(outputs.loss, 6)
    return results


def write_outputs(output_dir: Path, results: dict, training_args: dict, data_info: dict, state: dict) -> None:
    """The best model's files beside its results, arguments, data record and loop state (main process only)."""
    from ..evaluation import write_results_json

    for item in (output_dir / BEST_DIR).iterdir():
        shutil.copy2(item, output_dir / item.name)
    write_results_json(output_dir, results)
    (output_dir / "training_args.json").write_text(json.dumps(training_args, indent=2) + "\n")
    (output_dir / "dataset_info.json").write_text(json.dumps(data_info, indent=2) + "\n")
    (output_dir / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")


def _announce(accelerator: Accelerator, bundle: ModelBundle, data: TrainingData, data_info: dict, prepared: Prepared) -> None:
    accelerator.print(
        f"Training {bundle.kind} ({bundle.num_parameters:,} parameters) on {len(data.train)} of {data_info['num_train']} images ({data.mode}), "
        f"{accelerator.num_processes} process(es) on {accelerator.device}, {prepared.total_epochs} epochs "
        f"({' + '.join(f'{p.name}: {p.epochs}' for p in bundle.phases)}), {prepared.total_steps} optimiser steps"
    )


def train(plan: TrainingPlan) -> dict:
    """Train, keep the best epoch by validation accuracy, evaluate it on validation and test, save everything."""
    accelerator = start_run(plan.run, plan.schedule, plan.model.name)
    output_dir = Path(plan.run.output_dir)

    splits, data_info = load_splits(plan.data, accelerator, plan.command)
    bundle = build_model_bundle(plan.model, plan.schedule)
    if bundle.kind == "mobilenetv2" and plan.model.pretrained and plan.model.name == "mobilenetv2":
        from ..models.mobilenet import describe_pretrained_source

        accelerator.print(describe_pretrained_source(pretrained_weights=plan.model.pretrained_weights))
    bundle.model.to(accelerator.device)
    data = build_training_data(plan.inputs, bundle, splits, accelerator, plan.run.show_progress)
    data_info["input_path"] = data.mode

    prepared = prepare(accelerator, bundle, data, plan)
    tracker_config = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in plan.recorded_args.items()}
    accelerator.init_trackers(plan.run.project_name, config=tracker_config)
    state = resume_state(plan.run, accelerator)

    _announce(accelerator, bundle, data, data_info, prepared)
    runner = EpochRunner(plan, accelerator, bundle, prepared, state)
    train_runtime = runner.run_all()
    accelerator.wait_for_everyone()

    results = {
        "epoch": state["epoch"],
        "best_epoch": state["best_epoch"],
        "train_runtime": round(train_runtime, 2),
        "train_samples_per_second": round(runner.samples_this_run / train_runtime, 2) if train_runtime else None,
        "num_parameters": bundle.num_parameters,
    }
    model = load_best(accelerator, bundle, prepared, output_dir)
    if plan.run.temperature_scaling:
        results.update(calibrate(accelerator, bundle, model, prepared, output_dir, plan.run.show_progress))
    sources = {split: source_names(splits[split]) for split in ("validation", "test")}
    results.update(final_evaluation(accelerator, bundle, model, prepared, output_dir, data, sources, plan.run.show_progress))
    if accelerator.is_main_process:
        write_outputs(output_dir, results, {**plan.recorded_args, **bundle.description}, data_info, state)
        export_trained_model(output_dir, splits["test"], accelerator.print)  # model.onnx, checked on the test photos
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return results


__all__ = ["BEST_DIR", "CHECKPOINT_DIR", "STATE_FILE", "EpochRunner", "SplitOutputs", "evaluate_split", "find_latest_checkpoint", "train"]

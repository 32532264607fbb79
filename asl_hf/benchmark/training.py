"""Training throughput: the real loop (load, augment, forward, backward, step) vs compute alone.

The real loop is built from the training code's own pieces (preloaded images with
``build_tensor_train_transform`` when they fit in memory, as ``--preload_images auto`` does, else
``build_train_transform`` + ``batch_transform`` in worker processes; ``collate``, AdamW, cross
entropy, gradient clipping). Compute-only runs the same steps on one pre-made batch, so
``loop / compute`` says how much the input pipeline holds the model back (1.0 = not at all).
"""

from __future__ import annotations

import io
import multiprocessing
import time

import datasets
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader

from ..training.preload import fits_in_memory, preload_split
from ..models.preprocessing import build_resize_transform
from ..training.transforms import AugmentationConfig, batch_transform, build_tensor_train_transform, build_train_transform, collate
from .models import BenchModel


def _train_step(bench: BenchModel, model, optimizer, batch: dict, device: str) -> None:
    pixel_values, labels = batch["pixel_values"].to(device), batch["labels"].to(device)
    autocast = torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda"))
    with autocast:
        logits = bench.bundle.logits(model, {"pixel_values": pixel_values})
    loss = F.cross_entropy(logits.float(), labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _images_per_second(step, batches, warmup: int, steps: int, batch_size: int, device: str) -> float:
    """Run ``warmup`` untimed then ``steps`` timed steps over ``batches`` (an iterator, cycled)."""
    for _ in range(warmup):
        step(next(batches))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step(next(batches))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return round(steps * batch_size / (time.perf_counter() - start), 1)


def _cycle(loader):
    while True:
        yield from loader


def benchmark_training(
    bench: BenchModel,
    train_split: datasets.Dataset,
    device: str,
    batch_size: int = 64,
    steps: int = 20,
    warmup: int = 3,
    num_workers: int = 2,
) -> dict:
    """Images/s of the real loop and of compute alone, in one process, with the same model and optimiser."""
    bundle = bench.bundle
    model = bundle.model.to(device)
    if bundle.phases:
        bundle.enter_phase(bundle.phases[-1])
    bundle.train_mode(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.01)

    def step(batch):
        _train_step(bench, model, optimizer, batch, device)

    dataset = train_split.with_transform(batch_transform(build_train_transform(bundle.spec, AugmentationConfig())))
    input_path = "streaming"
    if fits_in_memory(len(train_split), bundle.spec.height, bundle.spec.width):
        # As the training loop does (``--preload_images auto``): decode and resize once, augment in this process.
        dataset = preload_split(train_split, build_resize_transform(bundle.spec),
                                build_tensor_train_transform(bundle.spec, AugmentationConfig()), show_progress=False)
        input_path, num_workers = "preloaded", 0
    # Fork like the training loop does on Linux (this runs in a spawned child whose default would be spawn).
    context = "fork" if num_workers > 0 and "fork" in multiprocessing.get_all_start_methods() else None
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True, collate_fn=collate,
                        num_workers=num_workers, persistent_workers=num_workers > 0, multiprocessing_context=context)
    if len(loader) == 0:
        raise ValueError(f"the train split has {len(train_split)} images, fewer than one batch of {batch_size}")
    loop = _images_per_second(step, _cycle(loader), warmup, steps, batch_size, device)
    fixed = next(iter(DataLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=collate)))
    compute = _images_per_second(step, _cycle([fixed]), warmup, steps, batch_size, device)
    del loader
    return {
        "batch_size": batch_size,
        "steps": steps,
        "num_workers": num_workers,
        "input_path": input_path,
        "loop_images_per_second": loop,
        "compute_images_per_second": compute,
        "loop_to_compute": round(loop / compute, 3),
    }


def benchmark_data_pipeline(bench: BenchModel, train_split: datasets.Dataset, limit: int = 512) -> dict:
    """Images per CPU-second on one core: plain decode of the stored files vs decode + the training augmentation."""
    subset = train_split.select(range(min(limit, len(train_split))))
    raw = subset.cast_column("image", datasets.Image(decode=False))["image"]
    blobs = [item["bytes"] if item["bytes"] is not None else open(item["path"], "rb").read() for item in raw]

    def decode_only():
        for blob in blobs:
            Image.open(io.BytesIO(blob)).convert("RGB")

    augmented = subset.with_transform(batch_transform(build_train_transform(bench.bundle.spec, AugmentationConfig())))

    def decode_and_augment():
        for start in range(0, len(augmented), 64):
            augmented[start : start + 64]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in DataLoader workers; idle intra-op threads would also inflate CPU time
    try:
        rates = _rates(decode_only, decode_and_augment, len(blobs))
        rates["augmentation_steps_us"] = augmentation_breakdown(bench, subset)
    finally:
        torch.set_num_threads(threads)
    rates["images"] = len(blobs)
    return rates


def _rates(decode_only, decode_and_augment, count: int) -> dict:
    rates = {}
    for name, run in (("decode", decode_only), ("decode_augment", decode_and_augment)):
        run() if name == "decode" else None  # warm the file cache / Arrow pages
        start = time.process_time()  # CPU time: what one core can do, even on a machine busy with other work
        run()
        rates[f"{name}_images_per_second"] = round(count / (time.process_time() - start), 1)
    return rates


def augmentation_breakdown(bench: BenchModel, subset: datasets.Dataset, limit: int = 256) -> dict[str, float]:
    """CPU microseconds per image spent in each step of the training transform (where the time goes)."""
    transform = build_train_transform(bench.bundle.spec, AugmentationConfig())
    images = [subset[i]["image"].convert("RGB") for i in range(min(limit, len(subset)))]
    timings = {}
    for index, step in enumerate(transform.transforms):
        start = time.process_time()
        images = [step(image) for image in images]
        name = type(step).__name__
        timings[name if name not in timings else f"{name}_{index}"] = round((time.process_time() - start) / len(images) * 1e6, 1)
    return timings

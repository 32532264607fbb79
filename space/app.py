"""ASL fingerspelling demo: one photo in, both models' top-5 letters out, side by side.

Runs as a Hugging Face Space (``sdk: gradio``) or locally with ``python space/app.py``. On a Space the ``asl_hf``
package is not installed, so this file is self-contained: it classifies with the same library calls as
``asl_hf.inference`` (the model folder's own ``AutoImageProcessor`` + ``AutoModelForImageClassification``, softmax,
top-k) and converts images with a copy of ``asl_hf.images.to_rgb``; ``tests/test_space.py`` checks both agree.

Models come from Hub repo ids or local folders named by environment variables (defaults below). A model that
cannot be loaded does not stop the app: the page says which model is missing and why.

The *Spell* tab turns a webcam stream or a video into text with ``asl_hf.spelling``'s state machine. That module is
pure Python and is imported from the package when it is installed; a Space has ``spelling.py`` beside this file
instead (``scripts/push_to_hub.py --space_dir`` copies it there), so the rule is never written twice.

Example photos come from ``examples/`` beside this file, which ``scripts/push_to_hub.py --examples_dir`` fills at push
time (real photos are never stored in the code repository), or from the folder named by ``ASL_EXAMPLES_DIR``; each
file name starts with its class (``A_A1005.jpg``). With neither, the page has no examples.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageOps

try:  # the package's module when asl_hf is installed (local runs, tests) ...
    from asl_hf.spelling import SpellingMachine, SpellingSettings
except ImportError:  # ... else the copy push_to_hub puts beside app.py on the Space
    from spelling import SpellingMachine, SpellingSettings

# --- Settings: the only place that names the models -------------------------------------------------------------
MODEL_SOURCES: dict[str, tuple[str, str]] = {
    "Custom CNN": ("ASL_CNN_MODEL", "asl-hf/asl-cnn"),
    "MobileNetV2": ("ASL_MOBILENET_MODEL", "asl-hf/asl-mobilenetv2"),
}
"""Display name -> (environment variable, default Hub repo id). The env var may also hold a local folder."""
DATASET_ID = "asl-hf/asl-alphabet"
TOP_K = 5
MAX_PIXELS = 50_000_000
"""Larger images are refused before decoding (decompression bombs): 50 MP is above any phone photo."""
MAX_SIDE = 1024
"""Images are downscaled to fit this before preprocessing; both models look at 224 px or less."""
MAX_FILE_SIZE = "10mb"
CONCURRENCY_LIMIT = 2
TORCH_THREADS = max(1, (os.cpu_count() or 1) // CONCURRENCY_LIMIT)
"""Threads per request: parallel requests share the cores instead of oversubscribing them. On a loaded 2-core
machine two torch threads per request made MobileNetV2 ~6x slower than one (OpenMP threads wait on each other)."""
STREAM_EVERY_S = 0.5
SPELL_STREAM_EVERY_S = 0.1
"""The Spell tab reads the webcam 10 times a second: the spelling machine's defaults are tuned for 10 fps."""
SPELL_TIME_LIMIT_S = 180
"""One webcam spelling session streams for at most this long (a shared Space serves others too); restart to go on."""
SPELL_VIDEO_FPS = 10.0
MAX_VIDEO_SECONDS = 120.0
"""An uploaded video is spelled up to this point (at 10 fps, 1,200 frames)."""

logger = logging.getLogger("asl_space")


class InputImageError(ValueError):
    """The input cannot be classified; the message is shown to the user as is (one line)."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --- Images -----------------------------------------------------------------------------------------------------
def to_rgb(image: Image.Image) -> Image.Image:
    """Upright RGB from any PIL mode (a copy of ``asl_hf.images.to_rgb``, which the Space cannot import):
    EXIF rotation applied, alpha composited on white, 16/32-bit images scaled to 8 bits, CMYK/P/LA/1 converted,
    first frame of animations."""
    if getattr(image, "is_animated", False):
        image.seek(0)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    elif image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        peak = 1.0 if array.max(initial=0) <= 1.0 else 255.0
        image = Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def open_image(path: str | os.PathLike, display_name: str | None = None) -> Image.Image:
    """Decode an uploaded file safely: refuse non-images and oversized ones, decode large JPEGs at reduced scale."""
    name = display_name or Path(path).name
    try:
        with warnings.catch_warnings():  # PIL warns from 89 MP; the stricter MAX_PIXELS check below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as error:  # PIL refuses outright from 179 MP
        raise InputImageError(f"{name}: too large to open ({_first_line(error)})") from None
    except (OSError, ValueError, SyntaxError):  # UnidentifiedImageError is an OSError
        raise InputImageError(f"{name}: not an image file that can be read (use JPEG, PNG, WebP, GIF or BMP)") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InputImageError(
            f"{name}: {width}x{height} pixels is too large (limit {MAX_PIXELS // 1_000_000} megapixels); resize it first"
        )
    if max(width, height) > MAX_SIDE:
        image.draft(image.mode, (MAX_SIDE, MAX_SIDE))  # JPEG only: decode at 1/2..1/8 scale, never below MAX_SIDE
    try:
        image.load()
    except (OSError, ValueError, SyntaxError) as error:
        raise InputImageError(f"{name}: the image file is damaged or truncated ({_first_line(error)})") from None
    return image


def prepare_image(image: Image.Image) -> Image.Image:
    """Upright RGB, downscaled to fit ``MAX_SIDE`` (smaller images are left exactly as they are)."""
    image = to_rgb(image)
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def image_from_payload(payload) -> Image.Image:
    """The input as a PIL image. The upload event runs with ``preprocess=False`` so that a bad file reaches this
    code (and gets a clear message) instead of failing inside Gradio's own decoding."""
    if payload is None:
        raise InputImageError("No image: upload a photo, take one with the webcam, or paste one from the clipboard.")
    if isinstance(payload, Image.Image):  # live webcam frames arrive decoded
        return payload
    data = payload if isinstance(payload, dict) else getattr(payload, "model_dump", dict)()
    path = data.get("path")
    if not path:
        raise InputImageError("The upload did not contain an image file.")
    return open_image(path, data.get("orig_name"))


def video_frames(path: str | os.PathLike, fps: float = SPELL_VIDEO_FPS, display_name: str | None = None) -> Iterator[tuple[float, Image.Image]]:
    """``(time, frame)`` at times ``k / fps`` from the first frame, each the frame on screen then by the stream's
    timestamps: the sampling of ``asl_hf.frames`` (which the Space cannot import; ``tests/test_space.py`` checks
    that both give the same frames). Decoded with PyAV; an unreadable file is an ``InputImageError``."""
    import av

    name = display_name or Path(path).name
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or _first_line(error)  # strerror leaves out the server's temp path
        raise InputImageError(f"{name}: not a video file that can be read ({reason})") from None
    with container:
        if not container.streams.video:
            raise InputImageError(f"{name}: the file has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        frame_duration = float(1 / rate) if rate else 0.0
        first, shown, shown_time, sample, tolerance = None, None, 0.0, 0, 1e-4
        try:
            for index, frame in enumerate(container.decode(stream)):
                time_s = frame.time if frame.time is not None else index * frame_duration
                first = time_s if first is None else first
                time_s -= first
                while shown is not None and sample / fps < time_s - tolerance:
                    yield sample / fps, shown.to_image()
                    sample += 1
                shown, shown_time = frame, time_s
        except av.FFmpegError as error:
            reason = getattr(error, "strerror", None) or _first_line(error)
            raise InputImageError(f"{name}: the video could not be decoded ({reason})") from None
        if shown is None:
            raise InputImageError(f"{name}: the video has no frames that can be decoded")
        while sample / fps <= shown_time + tolerance or sample / fps < shown_time + frame_duration - tolerance:
            yield sample / fps, shown.to_image()
            sample += 1


def payload_path(payload) -> tuple[str | None, str | None]:
    """``(path, original name)`` of an unprocessed upload (a dict or Gradio's FileData), ``(None, None)`` if empty."""
    if payload is None:
        return None, None
    data = payload if isinstance(payload, dict) else getattr(payload, "model_dump", dict)()
    if isinstance(data.get("video"), dict):  # the {video, subtitles} form of older Gradio versions
        data = data["video"]
    return data.get("path"), data.get("orig_name")


# --- Models -----------------------------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    """One model slot of the app: the processor and model, or why they are missing, plus its info line."""

    name: str
    source: str
    processor: object = None
    model: torch.nn.Module | None = None
    labels: list[str] = field(default_factory=list)
    error: str | None = None
    info: str = ""

    @property
    def ready(self) -> bool:
        return self.model is not None


def _looks_like_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or source.count("/") > 1 or os.sep in source.replace("/", "")


@functools.cache
def hub_reachable() -> bool:
    """One quick probe of the Hub endpoint, so an offline start does not spend minutes in download retries.
    Any HTTP answer counts as reachable; ``HF_HUB_OFFLINE=1`` skips the probe."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=5).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


def _load_error(source: str, error: BaseException, online: bool) -> str:
    """A one-line reason, naming the usual causes instead of transformers' generic "Can't load ..." text."""
    names, cause = set(), error
    while cause is not None and len(names) < 20:
        names.add(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    if not os.path.isdir(source):
        if names & {"RepositoryNotFoundError", "GatedRepoError"}:
            return f"{source}: no such model repo on the Hub, or it is private/gated (set HF_TOKEN)"
        if not online:
            return f"{source}: the Hugging Face Hub cannot be reached and the model is not in the local cache"
    message = _first_line(error)
    return f"{source}: could not load ({message[:200]}{'...' if len(message) > 200 else ''})"


def load_model(name: str, source: str) -> LoadedModel:
    """Load processor + model with the calls ``asl_hf.inference.load_classifier`` makes (the CNN through its saved
    remote code, MobileNetV2 through transformers' TimmWrapper). Never raises: a failure becomes ``error``."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    slot = LoadedModel(name=name, source=source)
    if _looks_like_path(source) and not os.path.exists(source):
        slot.error = f"{source}: no such model folder"
    elif os.path.isdir(source) and not os.path.isfile(os.path.join(source, "config.json")):
        slot.error = f"{source}: not a saved model folder (no config.json)"
    else:
        online = os.path.isdir(source) or hub_reachable()
        try:
            slot.processor = AutoImageProcessor.from_pretrained(source, local_files_only=not online)
            model = AutoModelForImageClassification.from_pretrained(source, trust_remote_code=True, local_files_only=not online)
            id2label = model.config.id2label
            slot.labels = [str(id2label[i]) for i in range(len(id2label))]
            slot.model = model.eval()
        except Exception as error:  # Hub unreachable, missing files, unknown model type: all mean "not available"
            slot.processor = None
            slot.error = _load_error(source, error, online)
    if slot.error:
        logger.warning("%s not loaded: %s", name, slot.error)
    slot.info = model_info(slot)
    return slot


def load_models() -> list[LoadedModel]:
    return [load_model(name, os.environ.get(env_var) or default) for name, (env_var, default) in MODEL_SOURCES.items()]


@torch.inference_mode()
def classify(slot: LoadedModel, image: Image.Image) -> tuple[dict[str, float], float]:
    """Top-k ``{label: probability}`` and the latency in ms (preprocessing + forward pass)."""
    start = time.perf_counter()
    pixel_values = slot.processor([image], return_tensors="pt")["pixel_values"].to(dtype=slot.model.dtype)
    probabilities = slot.model(pixel_values=pixel_values).logits.float().softmax(-1)[0]
    scores, ids = probabilities.topk(min(TOP_K, len(slot.labels)))
    latency_ms = (time.perf_counter() - start) * 1000
    return {slot.labels[i]: float(s) for i, s in zip(ids.tolist(), scores.tolist())}, round(latency_ms, 2)


# --- Spelling ---------------------------------------------------------------------------------------------------
def top_label(slot: LoadedModel, image: Image.Image) -> tuple[str, float]:
    """The most likely label and its probability, through the same ``classify`` as the Photo tab."""
    confidences, _ = classify(slot, image)
    label, probability = next(iter(confidences.items()))
    return label, probability


def spelling_settings(hold_seconds, threshold) -> SpellingSettings:
    """The machine's defaults with the page's two sliders (values out of range fall back to the defaults)."""
    defaults = SpellingSettings()
    try:
        return replace(defaults, hold_seconds=float(hold_seconds), threshold=float(threshold))
    except (TypeError, ValueError):
        return defaults


def progress_bar(fraction: float, width: int = 10) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "▰" * filled + "▱" * (width - filled)


def held_markdown(machine: SpellingMachine, seen: tuple[str, float] | None = None) -> str:
    """What the signer needs to see: the sign being held and how far along, or what to do next."""
    held = machine.held
    if held is None:
        line = f"Hold a sign steady for {machine.settings.hold_seconds:g} s to type it."
    elif held.typed:
        line = f"**{held.label}** typed. Let go (show *nothing* or lower your hand) to type it again."
    else:
        line = f"Holding **{held.label}** {progress_bar(held.progress)} {100 * held.progress:.0f}%"
    if seen is not None:
        line += f"  \nThe model sees *{seen[0]}* ({100 * seen[1]:.0f}%)."
    return line


def ready_model(models: list[LoadedModel], name: str | None) -> LoadedModel:
    """The loaded model called ``name``; a one-line ``InputImageError`` when it is not available."""
    for slot in models:
        if slot.name == name:
            if not slot.ready:
                raise InputImageError(f"{slot.name} is not loaded: {slot.error}")
            return slot
    raise InputImageError(f"No model named {name!r}; choose one of {', '.join(s.name for s in models if s.ready) or 'none (none loaded)'}.")


# --- Model info line --------------------------------------------------------------------------------------------
def _metrics_from_folder(folder: Path) -> dict:
    """Test (else validation) accuracy and macro-F1 from the files training writes next to the weights."""
    for file_name in ("eval_results.json", "all_results.json"):
        path = folder / file_name
        if not path.is_file():
            continue
        try:
            results = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for prefix, split in (("test", "test"), ("eval", "validation")):
            if f"{prefix}_accuracy" in results:
                return {"split": split, "accuracy": results[f"{prefix}_accuracy"], "macro_f1": results.get(f"{prefix}_macro_f1"),
                        "data": _data_note(folder)}
    return {}


def _data_note(folder: Path) -> str:
    """Which data and split the reported numbers are on (from the dataset_info.json training writes), or ""."""
    try:
        info = json.loads((folder / "dataset_info.json").read_text())
    except (OSError, ValueError):
        return ""
    source = info.get("dataset_name") or Path(str(info.get("train_dir") or info.get("dataset_dir") or "")).name
    split = {"group": f"grouped split, blocks of {info.get('group_size')} frames", "random": "random split"}.get(info.get("split_by"), "")
    return ", ".join(part for part in (f"`{source}`" if source else "", split, f"{info.get('num_test')} test images") if part)


def _metrics_from_card(repo_id: str) -> dict:
    """Accuracy and macro-F1 from the model card's ``model-index`` (written by ``asl_hf.model_card``)."""
    from huggingface_hub import ModelCard

    if not hub_reachable():
        return {}
    try:
        results = ModelCard.load(repo_id).data.eval_results or []
    except Exception:  # no card, Hub unreachable, invalid metadata: no numbers to show
        return {}
    for split in ("test", "validation", None):
        found = {r.metric_type: r.metric_value for r in results if split is None or r.dataset_split == split}
        if "accuracy" in found:
            return {"split": split or "reported", "accuracy": found["accuracy"], "macro_f1": found.get("f1")}
    return {}


def reported_accuracy(slot: LoadedModel) -> float:
    """The model's reported test (else validation) accuracy, 0 when none is found."""
    local = os.path.isdir(slot.source)
    metrics = _metrics_from_folder(Path(slot.source)) if local else _metrics_from_card(slot.source)
    return float(metrics.get("accuracy") or 0.0)


def best_first(slots: list[LoadedModel]) -> list[str]:
    """Loaded model names, the one with the highest reported accuracy first (the Spell tab's default)."""
    return [slot.name for slot in sorted(slots, key=reported_accuracy, reverse=True)]


def model_info(slot: LoadedModel) -> str:
    """One Markdown line: where the model came from and its accuracy / macro-F1, or why it is missing."""
    if not slot.ready:
        return f"⚠️ **{slot.name} is not loaded**: {slot.error}"
    local = os.path.isdir(slot.source)
    metrics = _metrics_from_folder(Path(slot.source)) if local else _metrics_from_card(slot.source)
    where = f"local folder `{Path(slot.source).name}`" if local else f"[{slot.source}](https://huggingface.co/{slot.source})"
    if not metrics:
        return f"**{slot.name}** ({where}): no evaluation results found"
    f1 = metrics.get("macro_f1")
    f1_text = f", macro-F1 {100 * float(f1):.1f}%" if f1 is not None else ""
    data = f" on {metrics['data']}" if metrics.get("data") else ""
    return f"**{slot.name}** ({where}): {metrics['split']} accuracy {100 * float(metrics['accuracy']):.1f}%{f1_text}{data}"


# --- Example photos ----------------------------------------------------------------------------------------------
EXAMPLES_ENV = "ASL_EXAMPLES_DIR"
EXAMPLES_DIR = Path(__file__).resolve().with_name("examples")
"""The Space's example photos: ``scripts/push_to_hub.py --examples_dir`` copies them here at push time (they are
not stored in the code repository). ``ASL_EXAMPLES_DIR`` names another folder (local runs)."""
EXAMPLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")


def examples_folder() -> Path | None:
    """``ASL_EXAMPLES_DIR`` when set, else ``examples/`` beside this file when it exists, else None (no examples)."""
    named = os.environ.get(EXAMPLES_ENV)
    if named:
        return Path(named).expanduser()
    return EXAMPLES_DIR if EXAMPLES_DIR.is_dir() else None


def example_caption(file_name: str) -> str:
    """The class an example file name starts with: ``A_A1005.jpg`` -> ``A``, ``nothing_x.jpg`` -> ``nothing``
    (without an underscore, the leading letters: ``space1005.jpg`` -> ``space``)."""
    stem = Path(file_name).stem
    if "_" in stem:
        return stem.split("_", 1)[0]
    return re.match(r"[A-Za-z]*", stem).group(0) or stem


def find_examples(folder: Path | None) -> list[tuple[str, str]]:
    """``(path, caption)`` for each image file in ``folder``, sorted by name; none when the folder is None or
    missing (a missing ``ASL_EXAMPLES_DIR`` is logged, the app starts without examples)."""
    if folder is None:
        return []
    if not folder.is_dir():
        logger.warning("%s=%s: no such folder; the page shows no examples", EXAMPLES_ENV, folder)
        return []
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in EXAMPLE_SUFFIXES)
    return [(str(p), example_caption(p.name)) for p in files]


# --- UI ---------------------------------------------------------------------------------------------------------
ABOUT = """
**ASL fingerspelling** spells words letter by letter with one hand in American Sign Language.
Both models classify a single photo of a hand into **29 classes**: the letters **A–Z** plus **del**, **nothing**
(no hand) and **space**, the classes of the ASL Alphabet data set ([{dataset}](https://huggingface.co/datasets/{dataset})).

- **Custom CNN**: two convolution + max-pool blocks, a dense layer and a classifier on 64×64 inputs (a transformers model with remote code).
- **MobileNetV2**: timm's ImageNet MobileNetV2 fine-tuned on the same data (loaded through transformers' TimmWrapper).

**Limitations.** The training photos show one signer in front of one background, so accuracy on other signers,
hands, lighting and backgrounds is lower than the reported test accuracy. **J** and **Z** are motion signs: a photo
only shows their end pose.{examples_note}
Images are processed in memory and not stored; they are downscaled to at most {max_side} px, and images over
{max_mp} megapixels or {max_file} are refused.
"""

EXAMPLES_NOTE = (" The example photos are frames of the ASL Alphabet data set the models were trained on (maybe training"
                 " images themselves), so expect higher confidence on them than on your own photos.")

CSS = ".model-info {font-size: 0.9em}"

SPELL_HELP = """
Fingerspell a word to the webcam, or upload a video of it: a sign is typed once it stays the model's top prediction
for the **hold time**. To type the same letter twice, let go in between: show *nothing* (an empty background) or lower
your hand. **space** types a space, **del** deletes the last character. Start the webcam with its record button: it is
read {per_second:g} times a second, for up to {limit} s at a time; videos are read at {fps:g} frames per second, up
to {max_video:g} s.
"""


def build_spell_tab(models: list[LoadedModel]) -> None:
    """The Spell tab's components and events (call inside a Blocks context). Each session has its own
    ``SpellingMachine`` in a ``gr.State``; the webcam stream feeds it one frame at a time, timed by the server clock."""
    ready = best_first([slot for slot in models if slot.ready])

    def spell_frame(frame, model_name, hold_seconds, threshold, machine):
        """One webcam frame: classify it, update this session's machine, show the text and the held sign."""
        machine = machine if isinstance(machine, SpellingMachine) else SpellingMachine()
        machine.settings = spelling_settings(hold_seconds, threshold)
        if frame is None:
            return machine.text, held_markdown(machine), machine
        try:
            seen = top_label(ready_model(models, model_name), prepare_image(image_from_payload(frame)))
        except InputImageError as error:
            return machine.text, f"⚠️ {error}", machine
        except Exception as error:  # keep streaming; the log keeps the details
            logger.exception("%s failed on a webcam frame", model_name)
            return machine.text, f"⚠️ {model_name} could not classify this frame ({_first_line(error)})", machine
        machine.update(*seen, time.monotonic())
        return machine.text, held_markdown(machine, seen), machine

    def spell_video(payload, model_name, hold_seconds, threshold):
        """A whole uploaded video, by its own timestamps. Its text replaces the box; the webcam then starts afresh
        (the video's clock and the webcam's cannot be mixed in one machine)."""
        machine = SpellingMachine(spelling_settings(hold_seconds, threshold))
        path, name = payload_path(payload)
        if not path:
            return "", "⚠️ No video: upload one first.", SpellingMachine(machine.settings)
        frames, cut = 0, False
        try:
            slot = ready_model(models, model_name)
            for time_s, frame in video_frames(path, SPELL_VIDEO_FPS, name):
                if time_s >= MAX_VIDEO_SECONDS:
                    cut = True
                    break
                machine.update(*top_label(slot, prepare_image(frame)), time_s)
                frames += 1
        except InputImageError as error:
            return "", f"⚠️ {error}", SpellingMachine(machine.settings)
        note = f" Only the first {MAX_VIDEO_SECONDS:g} s were read." if cut else ""
        summary = (f"Spelled {frames} frames ({frames / SPELL_VIDEO_FPS:g} s) of {name or 'the video'} with {slot.name}: "
                   f"{len(machine.keystrokes)} keystrokes.{note}")
        return machine.text, summary, SpellingMachine(machine.settings)

    def clear(machine):
        """Empty the text and forget any hold; keep the session's settings."""
        fresh = SpellingMachine(machine.settings if isinstance(machine, SpellingMachine) else SpellingSettings())
        return "", held_markdown(fresh), fresh

    defaults = SpellingSettings()
    gr.Markdown(SPELL_HELP.format(per_second=1 / SPELL_STREAM_EVERY_S, limit=SPELL_TIME_LIMIT_S, fps=SPELL_VIDEO_FPS,
                                  max_video=MAX_VIDEO_SECONDS))
    if not ready:
        gr.Markdown("⚠️ **No model is loaded**, so nothing can be spelled.")
    with gr.Row():
        with gr.Column(scale=1):
            model = gr.Dropdown(ready, value=ready[0] if ready else None, label="Model", elem_id="spell-model")
            with gr.Tabs():
                with gr.Tab("Webcam"):
                    webcam = gr.Image(label=f"Webcam (read every {SPELL_STREAM_EVERY_S:g} s)", sources=["webcam"], streaming=True,
                                      type="pil", image_mode=None, webcam_options=gr.WebcamOptions(mirror=True), height=320)
                with gr.Tab("Video file"):
                    video = gr.Video(label="A video of fingerspelling", sources=["upload"], height=320)
                    video_button = gr.Button("Spell the video", variant="primary")
            with gr.Accordion("Settings", open=False):
                hold = gr.Slider(0.1, 3.0, value=defaults.hold_seconds, step=0.1, label="Hold time (s)",
                                 info="how long a sign must stay the top prediction to be typed")
                threshold = gr.Slider(0.0, 1.0, value=defaults.threshold, step=0.05, label="Confidence threshold",
                                      info="frames the model is less sure of count as letting go")
        with gr.Column(scale=1):
            text = gr.Textbox(label="Typed text", lines=3, max_lines=10, interactive=False, buttons=["copy"], elem_id="spelled-text")
            held = gr.Markdown(held_markdown(SpellingMachine()), label="Held sign", elem_id="spell-held")
            clear_button = gr.Button("Clear", elem_id="spell-clear")
    state = gr.State(SpellingMachine())

    settings = [model, hold, threshold]
    webcam.stream(spell_frame, inputs=[webcam, *settings, state], outputs=[text, held, state], stream_every=SPELL_STREAM_EVERY_S,
                  time_limit=SPELL_TIME_LIMIT_S, concurrency_limit=CONCURRENCY_LIMIT, api_name="spell_stream",
                  api_visibility="undocumented")
    # gradio_client cannot consume a stream event (it stops at the "process_streaming" message), so the same function
    # is also an ordinary endpoint, one frame per call, behind a button nobody sees.
    gr.Button(visible=False).click(spell_frame, inputs=[webcam, *settings, state], outputs=[text, held, state],
                                   concurrency_limit=CONCURRENCY_LIMIT, api_name="spell")
    video_button.click(spell_video, inputs=[video, *settings], outputs=[text, held, state], api_name="spell_video", preprocess=False)
    clear_button.click(clear, inputs=state, outputs=[text, held, state], api_name="clear_spelling")


def build_demo(models: list[LoadedModel], examples: list[tuple[str, str]] | None = None) -> gr.Blocks:
    """The Blocks app for the given (loaded or missing) models: a Classify tab (its photo and live-webcam inputs
    share the result columns, with the ``(path, caption)`` example photos below, if any) and a Spell tab."""

    def predict(payload):
        """Both models' top-5 letters and latencies for one image; bad input gives a message, never a traceback."""
        try:
            image = prepare_image(image_from_payload(payload))
        except InputImageError as error:
            return (None, None) * len(models) + (f"⚠️ {error}",)
        outputs, notes = [], [f"Classified a {image.width}×{image.height} image."]
        for slot in models:
            if not slot.ready:
                outputs += [None, None]
                notes.append(f"⚠️ {slot.name} is not loaded: {slot.error}")
                continue
            try:
                confidences, latency_ms = classify(slot, image)
            except Exception as error:  # keep serving; the log keeps the details
                logger.exception("%s failed on a %s image of size %s", slot.name, image.mode, image.size)
                outputs += [None, None]
                notes.append(f"⚠️ {slot.name} could not classify this image ({_first_line(error)})")
                continue
            outputs += [confidences, latency_ms]
        return (*outputs, " ".join(notes))

    missing = [slot for slot in models if not slot.ready]
    with gr.Blocks(title="ASL fingerspelling: CNN vs MobileNetV2") as demo:
        gr.Markdown("# ASL fingerspelling recognition\nUpload, photograph or paste a hand sign: "
                    "two models name the letter (top 5 each). Or spell whole words in the *Spell* tab.")
        if missing:
            gr.Markdown("\n\n".join(f"⚠️ **{slot.name} is not available**: {slot.error}" for slot in missing),
                        elem_id="missing-models")
        with gr.Tabs():
            with gr.Tab("Classify a sign", id="classify"):
                image_input, classify_button, live_input, outputs = build_classify_tab(models, examples or [])
            with gr.Tab("Spell", id="spell"):
                build_spell_tab(models)
        with gr.Accordion("About: ASL fingerspelling, the 29 classes, limitations", open=False):
            gr.Markdown(ABOUT.format(dataset=DATASET_ID, max_side=MAX_SIDE, max_mp=MAX_PIXELS // 1_000_000,
                                     max_file=MAX_FILE_SIZE.upper(), examples_note=EXAMPLES_NOTE if examples else ""))

        gr.on([classify_button.click, image_input.change], predict, inputs=image_input, outputs=outputs,
              api_name="predict", preprocess=False, trigger_mode="always_last")
        live_input.stream(predict, inputs=live_input, outputs=outputs, stream_every=STREAM_EVERY_S,
                          time_limit=120, concurrency_limit=1, api_visibility="private")
    return demo


def build_classify_tab(models: list[LoadedModel], examples: list[tuple[str, str]]):
    """The photo / live-webcam inputs and one result column per model (call inside a Blocks context).
    Returns the photo input, its button, the live input and the outputs ``predict`` fills."""
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Tabs():
                with gr.Tab("Photo"):
                    image_input = gr.Image(
                        label="Hand sign", sources=["upload", "webcam", "clipboard"], type="filepath", image_mode=None,
                        webcam_options=gr.WebcamOptions(mirror=True), height=320, elem_id="image-input",
                    )
                    classify_button = gr.Button("Classify", variant="primary")
                with gr.Tab("Live webcam"):
                    live_input = gr.Image(label=f"Webcam (classified every {STREAM_EVERY_S:g} s)", sources=["webcam"],
                                          streaming=True, type="pil", image_mode=None,
                                          webcam_options=gr.WebcamOptions(mirror=True), height=320)
            status = gr.Markdown(elem_id="status")
        result_components = []
        for index, slot in enumerate(models):
            with gr.Column(scale=1):
                label = gr.Label(num_top_classes=TOP_K, label=slot.name, elem_id=f"label-{index}")
                latency = gr.Number(label=f"{slot.name} latency (ms)", precision=2, interactive=False)
                gr.Markdown(slot.info, elem_classes="model-info")
                result_components += [label, latency]
    outputs = [*result_components, status]

    if examples:
        gr.Examples(examples=[[path] for path, _ in examples], inputs=[image_input], cache_examples=False,
                    label=f"Example photos ({', '.join(caption for _, caption in examples)}): click one",
                    elem_id="examples")
    return image_input, classify_button, live_input, outputs


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(int(os.environ.get("ASL_TORCH_THREADS") or TORCH_THREADS))
    started = time.perf_counter()
    models = load_models()
    logger.info("models loaded in %.1f s: %s", time.perf_counter() - started,
                ", ".join(f"{m.name}={'ok' if m.ready else 'missing'}" for m in models))
    examples = find_examples(examples_folder())
    logger.info("%d example photos%s", len(examples), f" from {Path(examples[0][0]).parent}" if examples else "")
    demo = build_demo(models, examples)
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=64)
    demo.launch(theme=gr.themes.Soft(), css=CSS, max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()

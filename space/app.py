"""ASL fingerspelling demo: one photo in, each model's top-5 letters out, side by side.

Runs as a Hugging Face Space (``sdk: gradio``) or locally with ``python space/app.py``. On a Space the ``asl_hf``
package is not installed, so this file is self-contained: it classifies with the same library calls as
``asl_hf.inference`` (the model folder's own ``AutoImageProcessor`` + ``AutoModelForImageClassification``, softmax,
top-k) and converts images with a copy of ``asl_hf.images.to_rgb``; ``tests/test_space.py`` checks both agree.

Models come from Hub repo ids or local folders named by environment variables (defaults below). A model that
cannot be loaded does not stop the app: the page says which model is missing and why. The hand-landmark model finds
the hand with MediaPipe first (its own saved image processor); the page shows the landmarks it found, cropped to the
hand, or says that it found no hand instead of guessing a letter.

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
    "Hand landmarks": ("ASL_LANDMARKS_MODEL", "asl-hf/asl-landmarks"),
}
"""Display name -> (environment variable, default Hub repo id). The env var may also hold a local folder."""
DATASET_ID = "asl-hf/asl-alphabet"
TOP_K = 5
MAX_PIXELS = 50_000_000
"""Larger images are refused before decoding (decompression bombs): 50 MP is above any phone photo."""
MAX_SIDE = 1024
"""Images are downscaled to fit this before preprocessing; the pixel models look at 224 px or less."""
NO_HAND = "No hand found"
"""What a hand-landmark model answers for a photo in which MediaPipe finds no hand (never a letter)."""
MEDIAPIPE_HINT = 'pip install "mediapipe==0.10.14" "protobuf<5"'
HAND_CROP_MARGIN = 0.25
"""Margin around the hand, as a fraction of its size, in the image of what the landmark model looked at."""
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

    @property
    def detects_hands(self) -> bool:
        """True for hand-landmark models (their processor reports ``hand_found``), as ``asl_hf.inference`` decides."""
        return "hand_found" in (getattr(self.processor, "model_input_names", None) or ())


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
    """Load processor + model with the calls ``asl_hf.inference.load_classifier`` makes (the CNN and the landmark
    model through their saved remote code, MobileNetV2 through transformers' TimmWrapper). Never raises: a failure
    becomes ``error``."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    slot = LoadedModel(name=name, source=source)
    if _looks_like_path(source) and not os.path.exists(source):
        slot.error = f"{source}: no such model folder"
    elif os.path.isdir(source) and not os.path.isfile(os.path.join(source, "config.json")):
        slot.error = f"{source}: not a saved model folder (no config.json)"
    else:
        online = os.path.isdir(source) or hub_reachable()
        try:
            slot.processor = AutoImageProcessor.from_pretrained(source, trust_remote_code=True, local_files_only=not online)
            model = AutoModelForImageClassification.from_pretrained(source, trust_remote_code=True, local_files_only=not online)
            id2label = model.config.id2label
            slot.labels = [str(id2label[i]) for i in range(len(id2label))]
            slot.model = model.eval()
        except Exception as error:  # Hub unreachable, missing files, unknown model type: all mean "not available"
            slot.processor = None
            slot.error = _load_error(source, error, online)
    if slot.ready and slot.detects_hands and mediapipe_problem():  # fail at start, not at every photo
        slot.model, slot.error = None, f"{source}: a hand-landmark model needs MediaPipe ({MEDIAPIPE_HINT}): {mediapipe_problem()}"
    if slot.error:
        logger.warning("%s not loaded: %s", name, slot.error)
    slot.info = model_info(slot)
    return slot


@functools.cache
def mediapipe_problem() -> str | None:
    """Why MediaPipe Hands cannot run here, None when it can. Importing it also imports OpenCV, which needs the
    system's libGL: a missing library becomes one line in the page instead of an error on every photo."""
    try:
        import mediapipe

        mediapipe.solutions.hands  # noqa: B018 - releases after 0.10.14 have no bundled hand models
    except (ImportError, OSError, AttributeError) as error:
        return _first_line(error)
    return None


def load_models() -> list[LoadedModel]:
    return [load_model(name, os.environ.get(env_var) or default) for name, (env_var, default) in MODEL_SOURCES.items()]


@dataclass
class Prediction:
    """One model's answer to one photo. ``confidences`` is None when a landmark model found no hand; ``view`` is
    what a landmark model looked at (the photo with its landmarks drawn, cropped to the hand), None otherwise."""

    confidences: dict[str, float] | None
    latency_ms: float
    view: Image.Image | None = None


@torch.inference_mode()
def classify(slot: LoadedModel, image: Image.Image) -> Prediction:
    """Top-k ``{label: probability}``, the latency in ms (preprocessing, hand detection, forward pass) and, for a
    landmark model, the drawn hand; ``confidences`` None when it finds no hand (it never guesses a letter then)."""
    start = time.perf_counter()
    if slot.detects_hands:
        # The processor's own two steps (detect, normalise), so the detection is also there to draw.
        detection = slot.processor.detect(image)
        if detection is None:
            return Prediction(None, round((time.perf_counter() - start) * 1000, 2))
        inputs = {"landmarks": torch.from_numpy(slot.processor.normalise(detection))[None], "hand_found": torch.ones(1, dtype=torch.bool)}
    else:
        detection = None
        inputs = {"pixel_values": slot.processor([image], return_tensors="pt")["pixel_values"].to(dtype=slot.model.dtype)}
    probabilities = slot.model(**inputs).logits.float().softmax(-1)[0]
    scores, ids = probabilities.topk(min(TOP_K, len(slot.labels)))
    latency_ms = round((time.perf_counter() - start) * 1000, 2)
    view = slot.processor.draw(image, detection, HAND_CROP_MARGIN) if detection is not None else None
    return Prediction({slot.labels[i]: float(s) for i, s in zip(ids.tolist(), scores.tolist())}, latency_ms, view)


def predict_all(models: list[LoadedModel], payload) -> tuple:
    """Each model's (label, latency, view) for one image, then a status line; bad input gives a message, never a
    traceback. A landmark model that finds no hand answers ``NO_HAND``, not a letter."""
    try:
        image = prepare_image(image_from_payload(payload))
    except InputImageError as error:
        return (None, None, None) * len(models) + (f"⚠️ {error}",)
    outputs, notes = [], [f"Classified a {image.width}×{image.height} image."]
    for slot in models:
        if not slot.ready:
            outputs += [None, None, None]
            notes.append(f"⚠️ {slot.name} is not loaded: {slot.error}")
            continue
        try:
            result = classify(slot, image)
        except Exception as error:  # keep serving; the log keeps the details
            logger.exception("%s failed on a %s image of size %s", slot.name, image.mode, image.size)
            outputs += [None, None, None]
            notes.append(f"⚠️ {slot.name} could not classify this image ({_first_line(error)})")
            continue
        if result.confidences is None:
            notes.append(f"{slot.name}: {NO_HAND} in this photo, so it names no letter.")
        outputs += [result.confidences or NO_HAND, result.latency_ms, result.view]
    return (*outputs, " ".join(notes))


# --- Spelling ---------------------------------------------------------------------------------------------------
def top_label(slot: LoadedModel, image: Image.Image) -> tuple[str | None, float]:
    """The most likely label and its probability, through the same ``classify`` as the Photo tab; ``(None, 0.0)``
    when a landmark model finds no hand, which the spelling machine takes as letting go."""
    confidences = classify(slot, image).confidences
    if confidences is None:
        return None, 0.0
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
    if seen is not None and seen[0] is None:
        line += f"  \n{NO_HAND} in this frame."
    elif seen is not None:
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
    """Accuracy and macro-F1 from the model card's ``model-index`` (written by ``asl_hf.model_card``).

    The first entries are the data set the model was trained on: its test (else validation) scores are returned as
    from a local folder. Entries on any other ``dataset_name`` are the extra evaluations the card lists (e.g.
    ``other_signers_dev``: photos never trained on); they come back under ``extra_evaluations`` as
    ``evaluation_report.json``-like dicts (``split_name``, ``accuracy``, ``macro_f1``), the shape
    :func:`_extra_accuracies` reads, so Hub models are ranked exactly like local folders."""
    from huggingface_hub import ModelCard

    if not hub_reachable():
        return {}
    try:
        results = ModelCard.load(repo_id).data.eval_results or []
    except Exception:  # no card, Hub unreachable, invalid metadata: no numbers to show
        return {}
    return _metrics_from_eval_results(results)


def _metrics_from_eval_results(results: list) -> dict:
    """:func:`_metrics_from_card` on parsed ``EvalResult`` entries (the main data set is the first entry's)."""
    if not results:
        return {}
    main_name = results[0].dataset_name
    main = [r for r in results if r.dataset_name == main_name]
    metrics: dict = {}
    for split in ("test", "validation", None):
        found = {r.metric_type: r.metric_value for r in main if split is None or r.dataset_split == split}
        if "accuracy" in found:
            metrics = {"split": split or "reported", "accuracy": found["accuracy"], "macro_f1": found.get("f1")}
            break
    extras: dict[str, dict] = {}
    for r in results:
        if r.dataset_name == main_name or not r.dataset_name or r.metric_type not in ("accuracy", "f1"):
            continue
        report = extras.setdefault(str(r.dataset_name), {"split_name": str(r.dataset_name), "data": str(r.dataset_name)})
        report.setdefault("accuracy" if r.metric_type == "accuracy" else "macro_f1", r.metric_value)
    extra_evaluations = [report for report in extras.values() if isinstance(report.get("accuracy"), (int, float))]
    if extra_evaluations:
        metrics["extra_evaluations"] = extra_evaluations
    return metrics


def _extra_evaluations(folder: Path) -> list[dict]:
    """The ``evaluation_report.json`` files ``scripts/evaluate_model.py`` writes into ``eval_<data>/`` of a model
    folder (the reports ``asl_hf.model_card`` lists as other test sets)."""
    reports = []
    for path in sorted(folder.glob("eval_*/evaluation_report.json")):
        try:
            reports.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return [report for report in reports if isinstance(report, dict)]


def _extra_accuracies(scores: dict) -> dict[str, float]:
    """``{data name: accuracy}`` of a model's extra evaluations."""
    found = {}
    for report in scores.get("extra_evaluations") or []:
        name = report.get("split_name") or Path(str(report.get("data") or "")).name
        if name and isinstance(report.get("accuracy"), (int, float)):
            found[name] = float(report["accuracy"])
    return found


def _reports(slot: LoadedModel) -> tuple[dict, list[dict]]:
    """The model's test (else validation) metrics and its extra evaluations: from the files beside a local folder's
    weights, or from a Hub model's card (its ``model-index`` carries both)."""
    if os.path.isdir(slot.source):
        return _metrics_from_folder(Path(slot.source)), _extra_evaluations(Path(slot.source))
    metrics = _metrics_from_card(slot.source)
    return metrics, metrics.get("extra_evaluations") or []


def reported_scores(slot: LoadedModel) -> dict:
    """What the model reports about itself: test (else validation) ``accuracy`` and the ``extra_evaluations``
    on other folders (a local folder's ``eval_*/evaluation_report.json``, a Hub card's other ``model-index`` data sets)."""
    metrics, extra = _reports(slot)
    return {"accuracy": metrics.get("accuracy"), "extra_evaluations": extra}


def rank_models(scores: dict[str, dict]) -> tuple[list[str], str]:
    """Model names best first, and the number they are ranked by. Accuracy on photos of other signers says how a
    model does on a visitor's hand, so it decides when every model reports it on the same folder (one whose name
    says other signers preferred); otherwise the reported test accuracy does (the numbers are not comparable)."""
    shared = set.intersection(*(set(_extra_accuracies(s)) for s in scores.values())) if scores else set()
    data = min(shared, key=lambda name: ("other_signers" not in name, name)) if shared else None

    def key(name: str) -> tuple[float, float]:
        other = _extra_accuracies(scores[name])[data] if data else 0.0
        return other, float(scores[name].get("accuracy") or 0.0)

    ranked_by = f"accuracy on {data} (photos the models never trained on)" if data else "reported test accuracy"
    return sorted(scores, key=key, reverse=True), ranked_by


def best_first(slots: list[LoadedModel]) -> tuple[list[str], str]:
    """Loaded model names, best first (the default model and the column order), and what they are ranked by."""
    return rank_models({slot.name: reported_scores(slot) for slot in slots if slot.ready})


def model_info(slot: LoadedModel) -> str:
    """One Markdown line: where the model came from, its accuracy / macro-F1 and its accuracy on other test
    folders (photos of other signers), or why it is missing."""
    if not slot.ready:
        return f"⚠️ **{slot.name} is not loaded**: {slot.error}"
    local = os.path.isdir(slot.source)
    metrics, extra_evaluations = _reports(slot)
    where = f"local folder `{Path(slot.source).name}`" if local else f"[{slot.source}](https://huggingface.co/{slot.source})"
    extra = _extra_accuracies({"extra_evaluations": extra_evaluations})
    extra_text = "".join(f"; accuracy {100 * value:.1f}% on `{name}`" for name, value in extra.items())
    if metrics.get("accuracy") is None:  # a card may list other test sets alone
        return f"**{slot.name}** ({where}): no evaluation results found{extra_text}"
    f1 = metrics.get("macro_f1")
    f1_text = f", macro-F1 {100 * float(f1):.1f}%" if f1 is not None else ""
    data = f" on {metrics['data']}" if metrics.get("data") else ""
    return f"**{slot.name}** ({where}): {metrics['split']} accuracy {100 * float(metrics['accuracy']):.1f}%{f1_text}{data}{extra_text}"


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
The models classify a single photo of a hand into **29 classes**: the letters **A–Z** plus **del**, **nothing**
(no hand) and **space**, the classes of the ASL Alphabet data set ([{dataset}](https://huggingface.co/datasets/{dataset})).

- **Custom CNN**: two convolution + max-pool blocks, a dense layer and a classifier on 64×64 inputs (a transformers model with remote code).
- **MobileNetV2**: timm's ImageNet MobileNetV2 fine-tuned on the same data (loaded through transformers' TimmWrapper).
- **Hand landmarks**: MediaPipe Hands finds the hand and its 21 landmarks (wrist, finger joints and tips); a small
  network classifies their positions, so the background and the light matter less. Its column shows the landmarks it
  found, cropped to the hand; when MediaPipe finds no hand it says **No hand found** instead of naming a letter.

**Limitations.** The training photos show one signer in front of one background, so accuracy on other signers,
hands, lighting and backgrounds is lower than the reported test accuracy (the models are ordered, and the default
chosen, by accuracy on photos of other signers where every model reports it). **J** and **Z** are motion signs: a photo
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
your hand (for the hand-landmark model, a frame without a hand is letting go). **space** types a space, **del** deletes
the last character. Start the webcam with its record button: it is read {per_second:g} times a second, for up to
{limit} s at a time; videos are read at {fps:g} frames per second, up to {max_video:g} s.
"""


def build_spell_tab(models: list[LoadedModel], ranking: tuple[list[str], str]) -> None:
    """The Spell tab's components and events (call inside a Blocks context); ``ranking`` (``best_first``) picks the
    default model. Each session has its own ``SpellingMachine`` in a ``gr.State``; the webcam stream feeds it one
    frame at a time, timed by the server clock."""
    ready, ranked_by = ranking

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
            model = gr.Dropdown(ready, value=ready[0] if ready else None, label="Model", elem_id="spell-model",
                                info=f"best first by {ranked_by}")
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
    predict = functools.partial(predict_all, models)
    ranking = best_first(models)
    missing = [slot for slot in models if not slot.ready]
    with gr.Blocks(title="ASL fingerspelling: CNN, MobileNetV2 and hand landmarks") as demo:
        gr.Markdown("# ASL fingerspelling recognition\nUpload, photograph or paste a hand sign: "
                    f"{len(models)} models name the letter (top 5 each). Or spell whole words in the *Spell* tab.")
        if missing:
            gr.Markdown("\n\n".join(f"⚠️ **{slot.name} is not available**: {slot.error}" for slot in missing),
                        elem_id="missing-models")
        with gr.Tabs():
            with gr.Tab("Classify a sign", id="classify"):
                image_input, classify_button, live_input, outputs = build_classify_tab(models, examples or [], ranking)
            with gr.Tab("Spell", id="spell"):
                build_spell_tab(models, ranking)
        with gr.Accordion("About: ASL fingerspelling, the 29 classes, limitations", open=False):
            gr.Markdown(ABOUT.format(dataset=DATASET_ID, max_side=MAX_SIDE, max_mp=MAX_PIXELS // 1_000_000,
                                     max_file=MAX_FILE_SIZE.upper(), examples_note=EXAMPLES_NOTE if examples else ""))

        gr.on([classify_button.click, image_input.change], predict, inputs=image_input, outputs=outputs,
              api_name="predict", preprocess=False, trigger_mode="always_last")
        live_input.stream(predict, inputs=live_input, outputs=outputs, stream_every=STREAM_EVERY_S,
                          time_limit=120, concurrency_limit=1, api_visibility="private")
    return demo


def build_classify_tab(models: list[LoadedModel], examples: list[tuple[str, str]], ranking: tuple[list[str], str]):
    """The photo / live-webcam inputs and one result column per model, best first (call inside a Blocks context).
    Returns the photo input, its button, the live input and the outputs ``predict_all`` fills, in ``models`` order
    whatever the column order (the API's order does not depend on the scores)."""
    ranked, ranked_by = ranking
    place = {name: position for position, name in enumerate(ranked)}  # models not loaded go last
    columns = sorted(range(len(models)), key=lambda index: place.get(models[index].name, len(models)))
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
            if len(ranked) > 1:
                gr.Markdown(f"Models best first by {ranked_by}.", elem_classes="model-info", elem_id="ranking")
        result_components = {index: model_column(models[index], index) for index in columns}
    outputs = [component for index in range(len(models)) for component in result_components[index]] + [status]

    if examples:
        gr.Examples(examples=[[path] for path, _ in examples], inputs=[image_input], cache_examples=False,
                    label=f"Example photos ({', '.join(caption for _, caption in examples)}): click one",
                    elem_id="examples")
    return image_input, classify_button, live_input, outputs


def model_column(slot: LoadedModel, index: int) -> list:
    """One model's result column: its top-5 label, latency and, for a hand-landmark model, what it looked at
    (hidden for the pixel models, which look at the whole photo)."""
    with gr.Column(scale=1, min_width=240):  # three result columns beside the input on a laptop screen
        label = gr.Label(num_top_classes=TOP_K, label=slot.name, elem_id=f"label-{index}")
        latency = gr.Number(label=f"{slot.name} latency (ms)", precision=2, interactive=False)
        view = gr.Image(label="What it looked at", type="pil", format="jpeg",
                        interactive=False, height=240, visible=slot.detects_hands, elem_id=f"view-{index}")
        gr.Markdown(slot.info, elem_classes="model-info")
    return [label, latency, view]


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

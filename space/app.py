"""ASL fingerspelling demo: one photo in, both models' top-5 letters out, side by side.

Runs as a Hugging Face Space (``sdk: gradio``) or locally with ``python space/app.py``. On a Space the ``asl_hf``
package is not installed, so this file is self-contained: it classifies with the same library calls as
``asl_hf.inference`` (the model folder's own ``AutoImageProcessor`` + ``AutoModelForImageClassification``, softmax,
top-k) and converts images with a copy of ``asl_hf.images.to_rgb``; ``tests/test_space.py`` checks both agree.

Models come from Hub repo ids or local folders named by environment variables (defaults below). A model that
cannot be loaded does not stop the app: the page says which model is missing and why.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps

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
                return {"split": split, "accuracy": results[f"{prefix}_accuracy"], "macro_f1": results.get(f"{prefix}_macro_f1")}
    return {}


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
    return f"**{slot.name}** ({where}): {metrics['split']} accuracy {100 * float(metrics['accuracy']):.1f}%{f1_text}"


# --- Example images (drawn here, not taken from any data set) -----------------------------------------------------
FINGERS = ("index", "middle", "ring", "pinky")
EXAMPLE_POSES: dict[str, tuple[set[str], str]] = {
    "A (drawn)": (set(), "side"),
    "B (drawn)": (set(FINGERS), "across"),
    "L (drawn)": ({"index"}, "out"),
    "V (drawn)": ({"index", "middle"}, "across"),
    "Y (drawn)": ({"pinky"}, "out"),
}
BACKGROUND = (70, 90, 120)


def draw_hand(extended: set[str], thumb: str, size: int = 256, skin=(224, 172, 140)) -> Image.Image:
    """A flat hand silhouette: palm, the extended fingers up, curled ones as knuckles, the thumb out/side/across."""
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    unit, outline = size / 16, (150, 100, 80)
    draw.rounded_rectangle((5 * unit, 8 * unit, 11 * unit, 14.5 * unit), radius=unit, fill=skin, outline=outline, width=2)
    for i, finger in enumerate(FINGERS):
        left = 5 * unit + i * 1.5 * unit
        top = (3 if i in (0, 3) else 2) * unit if finger in extended else 6.8 * unit
        draw.rounded_rectangle((left + 0.1 * unit, top, left + 1.4 * unit, 9 * unit), radius=0.6 * unit, fill=skin,
                               outline=outline, width=2)
    thumb_box = {
        "out": (1.5 * unit, 9 * unit, 5.5 * unit, 10.5 * unit),
        "side": (4 * unit, 7 * unit, 5.4 * unit, 11 * unit),
        "across": (5 * unit, 10 * unit, 9.5 * unit, 11.4 * unit),
    }[thumb]
    draw.rounded_rectangle(thumb_box, radius=0.6 * unit, fill=skin, outline=outline, width=2)
    draw.rectangle((6 * unit, 14.5 * unit, 10 * unit, 16 * unit), fill=skin)  # wrist
    return image


def write_examples(folder: Path) -> list[tuple[str, str]]:
    """PNG files of the drawn poses plus an empty background ("nothing"); returns (path, caption) pairs."""
    folder.mkdir(parents=True, exist_ok=True)
    examples = []
    for caption, (extended, thumb) in EXAMPLE_POSES.items():
        path = folder / f"{caption.split()[0]}.png"
        draw_hand(extended, thumb).save(path)
        examples.append((str(path), caption))
    nothing = folder / "nothing.png"
    Image.new("RGB", (256, 256), BACKGROUND).save(nothing)
    examples.append((str(nothing), "nothing (empty)"))
    return examples


# --- UI ---------------------------------------------------------------------------------------------------------
ABOUT = """
**ASL fingerspelling** spells words letter by letter with one hand in American Sign Language.
Both models classify a single photo of a hand into **29 classes**: the letters **A–Z** plus **del**, **nothing**
(no hand) and **space**, the classes of the ASL Alphabet data set ([{dataset}](https://huggingface.co/datasets/{dataset})).

- **Custom CNN**: two convolution + max-pool blocks, a dense layer and a classifier on 64×64 inputs (a transformers model with remote code).
- **MobileNetV2**: timm's ImageNet MobileNetV2 fine-tuned on the same data (loaded through transformers' TimmWrapper).

**Limitations.** The training photos show one signer in front of one background, so accuracy on other signers,
hands, lighting and backgrounds is lower than the reported test accuracy. **J** and **Z** are motion signs: a photo
only shows their end pose. The drawn examples are not photos; expect low confidence on them.
Images are processed in memory and not stored; they are downscaled to at most {max_side} px, and images over
{max_mp} megapixels or {max_file} are refused.
"""

CSS = ".model-info {font-size: 0.9em}"


def build_demo(models: list[LoadedModel], example_dir: Path | None = None) -> gr.Blocks:
    """The Blocks app for the given (loaded or missing) models. Both input tabs share the result columns."""

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
                    "two models name the letter (top 5 each).")
        if missing:
            gr.Markdown("\n\n".join(f"⚠️ **{slot.name} is not available**: {slot.error}" for slot in missing),
                        elem_id="missing-models")
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

        if example_dir is not None:
            examples = write_examples(example_dir)
            captions = ", ".join(caption.split()[0] for _, caption in examples)
            gr.Examples(examples=[[path] for path, _ in examples], inputs=[image_input], cache_examples=False,
                        label=f"Drawn examples, not photos ({captions}): click one")
        with gr.Accordion("About: ASL fingerspelling, the 29 classes, limitations", open=False):
            gr.Markdown(ABOUT.format(dataset=DATASET_ID, max_side=MAX_SIDE, max_mp=MAX_PIXELS // 1_000_000,
                                     max_file=MAX_FILE_SIZE.upper()))

        gr.on([classify_button.click, image_input.change], predict, inputs=image_input, outputs=outputs,
              api_name="predict", preprocess=False, trigger_mode="always_last")
        live_input.stream(predict, inputs=live_input, outputs=outputs, stream_every=STREAM_EVERY_S,
                          time_limit=120, concurrency_limit=1, api_visibility="private")
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(int(os.environ.get("ASL_TORCH_THREADS") or TORCH_THREADS))
    started = time.perf_counter()
    models = load_models()
    logger.info("models loaded in %.1f s: %s", time.perf_counter() - started,
                ", ".join(f"{m.name}={'ok' if m.ready else 'missing'}" for m in models))
    demo = build_demo(models, example_dir=Path(tempfile.gettempdir()) / "asl_space_examples")
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=64)
    demo.launch(theme=gr.themes.Soft(), css=CSS, max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()

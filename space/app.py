"""ASL fingerspelling demo: one photo in, each model's top-5 letters out, side by side; a Spell tab that types; and a
Your hand tab that calibrates the hand-landmark model to the visitor's hand.

Runs as a Hugging Face Space (``sdk: gradio``) or locally with ``python space/app.py``. This file is only the page:
layout, events and wording. Loading, classifying, finding and drawing hands, ranking the models and spelling come
from the ``asl_hf`` package: installed locally, and shipped beside this file in the Space by
``scripts/push_to_hub.py --space_dir`` (a Space does not install the project, so the push puts ``asl_hf/`` here).

Models come from Hub repo ids or local folders named by environment variables (defaults below). A model that cannot
be loaded does not stop the app: the page says which model is missing and why.

The Your hand tab asks for each letter A–Z in turn (a webcam stream takes the photos by itself, or one photo at a
time) and keeps only the normalised hand landmarks of each photo, as a ``asl_hf.inference.Calibration`` in the
visitor's own ``gr.State`` (memory only, never the server's disk, never shared between visitors); the Classify and
Spell tabs pass it to the landmark model's calls. A visitor downloads it as a file made in the browser (base64 in a
hidden textbox, saved by JavaScript) and loads it again with an upload read in memory.

Example photos come from ``examples/`` beside this file, which ``scripts/push_to_hub.py --examples_dir`` fills at push
time (real photos are never stored in the code repository), or from the folder named by ``ASL_EXAMPLES_DIR``; each
file name starts with its class (``A_A1005.jpg``). With neither, the page has no examples.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from asl_hf.core.errors import AslError
from asl_hf.core.images import MAX_PIXELS, MAX_SIDE, open_image, prepare_image
from asl_hf.inference import Calibration, CalibrationError, FrameStream, ImageClassifier, load_classifier
from asl_hf.inference.calibration import landmark_layout
from asl_hf.inference.hands import BACKENDS, default_backend
from asl_hf.inference.handshapes import CAPTURE_LETTERS, HANDSHAPES
from asl_hf.inference.reports import ReportedScores, rank_models, reported_scores
from asl_hf.spelling import SpellingMachine, SpellingSettings
from asl_hf.spelling.frames import open_frames

# --- Settings: the only place that names the models -------------------------------------------------------------
MODEL_SOURCES: dict[str, tuple[str, str]] = {
    "Custom CNN": ("ASL_CNN_MODEL", "asl-hf/asl-cnn"),
    "MobileNetV2": ("ASL_MOBILENET_MODEL", "asl-hf/asl-mobilenetv2"),
    "Hand landmarks": ("ASL_LANDMARKS_MODEL", "asl-hf/asl-landmarks"),
}
"""Display name -> (environment variable, default Hub repo id). The env var may also hold a local folder."""
DATASET_ID = "asl-hf/asl-alphabet"
TOP_K = 5
NO_HAND = "No hand found"
"""What a hand-landmark model answers for a photo in which MediaPipe finds no hand (never a letter)."""
UNSURE_BELOW = 0.5
"""A top probability below this is shown as "Unsure" with the two best guesses, not as a confident letter. The models'
probabilities are calibrated (a temperature fitted on validation), so 0.5 means about one answer in two is right."""
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
SPELL_STREAM_IDLE_S = 10
"""A webcam stream that has sent no frame for this long has ended (time limit, stop button, closed tab): Gradio then
deletes the session's stream state, which closes its hand tracker."""
SPELL_VIDEO_FPS = 10.0
MAX_VIDEO_SECONDS = 120.0
"""An uploaded video is spelled up to this point (at 10 fps, 1,200 frames)."""
PHOTOS_PER_LETTER = 3
"""The Your hand tab's default: after this many photos of a letter (with a hand found) it asks for the next one."""
CAPTURE_STREAM_EVERY_S = 0.2
"""The Your hand tab's automatic capture reads the webcam 5 times a second (more often than it takes a photo, so that
a late frame does not cost a whole interval)."""
CAPTURE_EVERY_S = 0.4
"""The automatic capture takes a frame with a hand found at most this often: ``per_letter`` photos of a letter in
about a second, a little apart."""
CAPTURE_SETTLE_S = 1.5
"""After the automatic capture asks for a letter (its start, a letter done, a button), frames are ignored this long:
the time to change the handshape."""
CAPTURE_TIME_LIMIT_S = 180
"""One automatic capture streams for at most this long (26 letters take about 80 s at 3 photos each)."""
CALIBRATION_FILE_NAME = "my-hand.safetensors"
"""The name the browser saves a downloaded calibration under."""

logger = logging.getLogger("asl_space")


class InputImageError(ValueError):
    """The input cannot be used; the message is shown to the user as is (one line)."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --- Inputs -----------------------------------------------------------------------------------------------------
def _upload_fields(payload) -> dict:
    """An unprocessed upload as a dict (Gradio sends a dict or a FileData); ``{}`` when empty."""
    if payload is None:
        return {}
    data = payload if isinstance(payload, dict) else getattr(payload, "model_dump", dict)()
    return data["video"] if isinstance(data.get("video"), dict) else data  # {video, subtitles} of older Gradio versions


def image_from_payload(payload) -> Image.Image:
    """The input as a PIL image. The upload event runs with ``preprocess=False`` so that a bad file reaches the
    package's ``open_image`` (and gets a clear message) instead of failing inside Gradio's own decoding."""
    if payload is None:
        raise InputImageError("No image: upload a photo, take one with the webcam, or paste one from the clipboard.")
    if isinstance(payload, Image.Image):  # live webcam frames arrive decoded
        return payload
    data = _upload_fields(payload)
    if not data.get("path"):
        raise InputImageError("The upload did not contain an image file.")
    return open_image(data["path"], data.get("orig_name"))


# --- Models -----------------------------------------------------------------------------------------------------
@dataclass
class ModelSlot:
    """One model of the page: its classifier, or why it is missing, and what it reports about itself."""

    name: str
    source: str
    classifier: ImageClassifier | None = None
    error: str | None = None
    scores: ReportedScores = field(default_factory=ReportedScores)

    @property
    def ready(self) -> bool:
        return self.classifier is not None

    @property
    def looks_for_hands(self) -> bool:
        return self.ready and self.classifier.detects_hands


def load_slot(name: str, source: str) -> ModelSlot:
    """Load one model with ``asl_hf.inference.load_classifier``; a failure becomes the slot's one-line ``error``."""
    slot = ModelSlot(name=name, source=source)
    try:
        slot.classifier = load_classifier(source, device="cpu")
    except AslError as error:
        slot.error = str(error)
        logger.warning("%s not loaded: %s", name, slot.error)
        return slot
    slot.scores = reported_scores(source)
    return slot


def load_models() -> list[ModelSlot]:
    return [load_slot(name, os.environ.get(env_var) or default) for name, (env_var, default) in MODEL_SOURCES.items()]


def ready_model(models: list[ModelSlot], name: str | None) -> ModelSlot:
    """The loaded model called ``name``; a one-line ``InputImageError`` when it is not available."""
    for slot in models:
        if slot.name == name:
            if not slot.ready:
                raise InputImageError(f"{slot.name} is not loaded: {slot.error}")
            return slot
    raise InputImageError(f"No model named {name!r}; choose one of {', '.join(s.name for s in models if s.ready) or 'none (none loaded)'}.")


def best_first(models: list[ModelSlot]) -> tuple[list[str], str]:
    """Loaded model names, best first (the default model and the column order), and what they are ranked by."""
    return rank_models({slot.name: slot.scores for slot in models if slot.ready})


def model_info(slot: ModelSlot) -> str:
    """Markdown: where the model came from, its accuracy / macro-F1 and its accuracy on other test folders (photos of
    other signers), or why it is missing; then which runtime computes its answers (ONNX Runtime, or PyTorch and why)."""
    if not slot.ready:
        return f"⚠️ **{slot.name} is not loaded**: {slot.error}"
    scores = slot.scores
    where = f"local folder `{Path(slot.source).name}`" if os.path.isdir(slot.source) else f"[{slot.source}](https://huggingface.co/{slot.source})"
    extra = "".join(f"; accuracy {100 * value:.1f}% on `{name}`" for name, value in scores.other_sets.items())
    runs = f"  \nRuns on {slot.classifier.runtime_note}."
    if slot.classifier.detects_hands:
        runs += f" Webcam and Spell frames: the hand is tracked by {BACKENDS[default_backend()]}."
    if scores.accuracy is None:  # a card may list other test sets alone
        return f"**{slot.name}** ({where}): no evaluation results found{extra}{runs}"
    f1 = f", macro-F1 {100 * float(scores.macro_f1):.1f}%" if scores.macro_f1 is not None else ""
    data = f" on {scores.data}" if scores.data else ""
    return f"**{slot.name}** ({where}): {scores.split} accuracy {100 * float(scores.accuracy):.1f}%{f1}{data}{extra}{runs}"


# --- Classify ---------------------------------------------------------------------------------------------------
@dataclass
class Answer:
    """One model's answer to one photo, as the page shows it: ``confidences`` None when a landmark model found no
    hand; ``view`` the photo with the hand it classified drawn on it (landmark models)."""

    confidences: dict[str, float] | None
    latency_ms: float
    view: Image.Image | None = None


def calibration_for(slot: ModelSlot, calibration) -> Calibration | None:
    """The session's calibration where ``slot`` can use it (the hand-landmark model); None for pixel models."""
    return calibration if isinstance(calibration, Calibration) and slot.looks_for_hands else None


def answer_for(slot: ModelSlot, image: Image.Image, calibration: Calibration | None = None) -> Answer:
    """Top-k ``{label: probability}``, the latency in ms (preprocessing, hand detection, forward pass) and the drawn
    hand, all through the package's classifier (with the session's calibration, for the landmark model)."""
    start = time.perf_counter()
    prediction = slot.classifier.predict_with_hands([image], top_k=TOP_K, calibration=calibration_for(slot, calibration))[0]
    latency_ms = round((time.perf_counter() - start) * 1000, 2)
    if prediction.hand_found is False:
        return Answer(None, latency_ms)
    view = slot.classifier.draw(image, prediction.detection, HAND_CROP_MARGIN) if prediction.detection is not None else None
    return Answer(dict(prediction.top), latency_ms, view)


def verdict(confidences: dict[str, float] | None) -> str:
    """The headline above a model's bars: its letter, "Unsure: X or Y?" when it is not sure enough, or ``NO_HAND``."""
    if not confidences:
        return f"**{NO_HAND}**"
    (best, probability), *rest = confidences.items()
    if probability >= UNSURE_BELOW:
        return f"## {best}"
    second = f" or **{rest[0][0]}** ({100 * rest[0][1]:.0f}%)" if rest else ""
    return f"⚠️ **Unsure**: **{best}** ({100 * probability:.0f}%){second}?"


def predict_all(models: list[ModelSlot], payload, calibration: Calibration | None = None) -> tuple:
    """Each model's (label, latency, view, verdict) for one image, then a status line; bad input gives a message, never
    a traceback. A landmark model that finds no hand answers ``NO_HAND``, not a letter. ``calibration``: the session's
    (the *Your hand* tab), used by the landmark model and named in the status line."""
    try:
        image = prepare_image(image_from_payload(payload), MAX_SIDE)
    except (InputImageError, AslError) as error:
        return (None, None, None, None) * len(models) + (f"⚠️ {error}",)
    outputs, notes = [], [f"Classified a {image.width}×{image.height} image."]
    for slot in models:
        if not slot.ready:
            outputs += [None, None, None, None]
            notes.append(f"⚠️ {slot.name} is not loaded: {slot.error}")
            continue
        try:
            answer = answer_for(slot, image, calibration)
        except Exception as error:  # keep serving; the log keeps the details
            logger.exception("%s failed on a %s image of size %s", slot.name, image.mode, image.size)
            outputs += [None, None, None, None]
            notes.append(f"⚠️ {slot.name} could not classify this image ({_first_line(error)})")
            continue
        if answer.confidences is None:
            notes.append(f"{slot.name}: {NO_HAND} in this photo, so it names no letter.")
        elif calibration_for(slot, calibration) is not None:
            notes.append(f"{slot.name}: {calibrated_words(calibration)}.")
        outputs += [answer.confidences or NO_HAND, answer.latency_ms, answer.view, verdict(answer.confidences)]
    return (*outputs, " ".join(notes))


# --- Spell ------------------------------------------------------------------------------------------------------
def top_label(slot: ModelSlot, image: Image.Image, stream: FrameStream | None = None) -> tuple[str | None, float]:
    """The most likely label and its probability; ``(None, 0.0)`` when a landmark model finds no hand, which the
    spelling machine takes as letting go. With ``stream`` (a frame of a webcam stream or video, in order) the
    landmark model tracks the hand from the previous frame instead of searching the frame as a new photo."""
    prediction = stream.predict(image, top_k=1) if stream is not None else slot.classifier.predict_with_hands([image], top_k=1)[0]
    if prediction.hand_found is False:
        return None, 0.0
    return prediction.top[0]


@dataclass
class LiveStream:
    """One session's webcam stream through one model: the model's name and its :class:`FrameStream` (a hand tracker
    for the landmark model). Held in a ``gr.State`` of its own, never shared between visitors."""

    model_name: str
    stream: FrameStream
    calibration: Calibration | None = None
    """The session's calibration the stream was made with (compared by identity: a new one makes a new stream)."""


def live_stream(slot: ModelSlot, live: LiveStream | None, calibration: Calibration | None = None) -> LiveStream:
    """The session's stream for ``slot``, created on its first frame; switching models or calibrations closes the old
    one (a stream classifies every frame with the calibration it was made with)."""
    calibration = calibration_for(slot, calibration)
    if isinstance(live, LiveStream) and live.model_name == slot.name and live.calibration is calibration:
        return live
    release_stream(live)
    return LiveStream(slot.name, slot.classifier.stream(calibration=calibration), calibration)


def release_stream(live) -> None:
    """Close a session's stream (its MediaPipe graph): on Clear, on a model switch, and when Gradio deletes the state
    (no frame for ``SPELL_STREAM_IDLE_S``, or the tab closed)."""
    if isinstance(live, LiveStream):
        live.stream.close()


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


def held_markdown(machine: SpellingMachine, seen: tuple[str | None, float] | None = None) -> str:
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


def spell_frame(models: list[ModelSlot], frame, model_name, hold_seconds, threshold, machine, live=None, calibration=None):
    """One webcam frame: classify it through this session's stream (the landmark model tracks the hand from the
    session's previous frame, with the session's calibration), update this session's machine, show the text and the
    held sign."""
    machine = machine if isinstance(machine, SpellingMachine) else SpellingMachine()
    machine.settings = spelling_settings(hold_seconds, threshold)
    if frame is None:
        return machine.text, held_markdown(machine), machine, live
    try:
        slot = ready_model(models, model_name)
        live = live_stream(slot, live, calibration)
        seen = top_label(slot, prepare_image(image_from_payload(frame), MAX_SIDE), live.stream)
    except (InputImageError, AslError) as error:
        return machine.text, f"⚠️ {error}", machine, live
    except Exception as error:  # keep streaming; the log keeps the details
        logger.exception("%s failed on a webcam frame", model_name)
        return machine.text, f"⚠️ {model_name} could not classify this frame ({_first_line(error)})", machine, live
    machine.update(*seen, time.monotonic())
    return machine.text, held_markdown(machine, seen), machine, live


def spell_video(models: list[ModelSlot], payload, model_name, hold_seconds, threshold, calibration=None):
    """A whole uploaded video, by its own timestamps (``asl_hf.spelling.frames``), with the session's calibration for
    the landmark model. Its text replaces the box; the webcam then starts afresh (the video's clock and the webcam's
    cannot be mixed in one machine)."""
    machine = SpellingMachine(spelling_settings(hold_seconds, threshold))
    fields = _upload_fields(payload)
    if not fields.get("path"):
        return "", "⚠️ No video: upload one first.", SpellingMachine(machine.settings)
    name = fields.get("orig_name") or "the video"
    frames, cut = 0, False
    try:
        slot = ready_model(models, model_name)
        with slot.classifier.stream(calibration=calibration_for(slot, calibration)) as stream:  # its own tracker, closed at the end
            for frame in open_frames(fields["path"], SPELL_VIDEO_FPS, display_name=name).frames:
                if frame.time >= MAX_VIDEO_SECONDS:
                    cut = True
                    break
                machine.update(*top_label(slot, prepare_image(frame.image, MAX_SIDE), stream), frame.time)
                frames += 1
    except (InputImageError, AslError) as error:
        return "", f"⚠️ {error}", SpellingMachine(machine.settings)
    note = f" Only the first {MAX_VIDEO_SECONDS:g} s were read." if cut else ""
    summary = (f"Spelled {frames} frames ({frames / SPELL_VIDEO_FPS:g} s) of {name} with {slot.name}: "
               f"{len(machine.keystrokes)} keystrokes.{note}")
    return machine.text, summary, SpellingMachine(machine.settings)


def clear_spelling(machine, live=None):
    """Empty the text and forget any hold (keep the session's settings); close the session's stream (the next frame
    starts a new one)."""
    release_stream(live)
    fresh = SpellingMachine(machine.settings if isinstance(machine, SpellingMachine) else SpellingSettings())
    return "", held_markdown(fresh), fresh, None


# --- Your hand --------------------------------------------------------------------------------------------------
# A session's calibration lives in a gr.State of its own (a Calibration: normalised landmarks and letters, never a
# photo), in memory only; the Classify and Spell tabs pass it to the landmark model's calls. The capture position (the
# index of the letter asked for) is a second gr.State.
def hand_model(models: list[ModelSlot]) -> ModelSlot | None:
    """The loaded hand-landmark model, the one a calibration adapts; None when none is loaded."""
    return next((slot for slot in models if slot.looks_for_hands), None)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def calibrated_words(calibration: Calibration) -> str:
    """``calibrated to your hand (N letters)``."""
    return f"calibrated to your hand ({_count(len(calibration.classes), 'letter')})"


def calibration_status(models: list[ModelSlot], calibration) -> str:
    """The line the Classify and Spell tabs show about the session's calibration (nothing without a landmark model)."""
    slot = hand_model(models)
    if slot is None:
        return ""
    if isinstance(calibration, Calibration):
        return HAND_WORDS["status_calibrated"].format(model=slot.name, calibrated=calibrated_words(calibration))
    return HAND_WORDS["status_plain"].format(model=slot.name)


def _photos_per_letter(value) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return PHOTOS_PER_LETTER


def _position(value) -> int:
    return min(max(0, value), len(CAPTURE_LETTERS)) if isinstance(value, int) else 0


def capture_prompt(models: list[ModelSlot], position, per_letter, calibration) -> str:
    """Markdown: the letter to sign next with its handshape, its photos so far, and the whole capture's progress."""
    if hand_model(models) is None:
        return HAND_WORDS["no_model"]
    position, total = _position(position), len(CAPTURE_LETTERS)
    labels = calibration.labels if isinstance(calibration, Calibration) else []
    progress = f"{_count(len(set(labels)), 'letter')} done, {_count(len(labels), 'photo')}"
    if position == total:
        return HAND_WORDS["all_asked"].format(total=total, progress=progress)
    letter = CAPTURE_LETTERS[position]
    return (f"### Letter {position + 1} of {total}: {letter} — {HANDSHAPES[letter]}\n"
            f"Photos of {letter}: {labels.count(letter)} of {_photos_per_letter(per_letter)} · {progress}")


def _capture(models, position, per_letter, calibration, note: str) -> tuple:
    """What every capture event returns: the prompt, a note, the session's calibration and position."""
    position = _position(position)
    return capture_prompt(models, position, per_letter, calibration), note, calibration, position


def _with_example(calibration: Calibration | None, letter: str, landmarks: np.ndarray, layout: dict) -> Calibration:
    """A new calibration: the old one's examples and one more (a new object, so streams see the change)."""
    if not isinstance(calibration, Calibration):
        return Calibration(landmarks[None], [letter], layout=layout)
    return Calibration(np.concatenate([calibration.landmarks, landmarks[None]]), [*calibration.labels, letter],
                       calibration.settings, calibration.person, calibration.layout or layout, dict(calibration.no_hand))


def _without_letter(calibration: Calibration | None, letter: str) -> Calibration | None:
    """A new calibration without ``letter``'s examples; None when nothing is left."""
    if not isinstance(calibration, Calibration):
        return None
    keep = [i for i, label in enumerate(calibration.labels) if label != letter]
    if not keep:
        return None
    return Calibration(calibration.landmarks[keep], [calibration.labels[i] for i in keep], calibration.settings,
                       calibration.person, calibration.layout, dict(calibration.no_hand))


def take_photo(models: list[ModelSlot], frame, per_letter, position, calibration) -> tuple:
    """Add the photo's hand (its normalised landmarks, never the photo) to the session's calibration as the letter
    asked for; after ``per_letter`` photos of it, ask for the next letter. A photo without a hand is not counted."""
    slot, position = hand_model(models), _position(position)
    if slot is None or position == len(CAPTURE_LETTERS):
        return _capture(models, position, per_letter, calibration, HAND_WORDS["no_model" if slot is None else "all_asked_note"])
    try:
        detection = slot.classifier.find_hands([prepare_image(image_from_payload(frame), MAX_SIDE)])[0]
    except (InputImageError, AslError) as error:
        return _capture(models, position, per_letter, calibration, f"⚠️ {error}")
    if detection is None:
        return _capture(models, position, per_letter, calibration, HAND_WORDS["no_hand"])
    letter = CAPTURE_LETTERS[position]
    calibration = _with_example(calibration, letter, slot.classifier.processor.normalise(detection), landmark_layout(slot.classifier))
    taken, wanted = calibration.labels.count(letter), _photos_per_letter(per_letter)
    if taken < wanted:
        return _capture(models, position, per_letter, calibration, HAND_WORDS["taken"].format(taken=taken, wanted=wanted, letter=letter))
    return _capture(models, position + 1, per_letter, calibration, HAND_WORDS["letter_done"].format(letter=letter, photos=_count(taken, "photo")))


def clock() -> float:
    """The server clock that times the automatic capture, in seconds (tests replace it)."""
    return time.monotonic()


@dataclass(frozen=True)
class AutoCapture:
    """A session's automatic capture: the letter it last saw asked for (``position``), when that letter was asked for,
    when it last took a photo, and the note it shows between photos."""

    position: int
    asked_at: float
    taken_at: float | None = None
    note: str = ""


def auto_capture(models: list[ModelSlot], frame, per_letter, position, calibration, auto, lines: int = 2) -> tuple:
    """One webcam frame of the automatic capture: after ``CAPTURE_SETTLE_S`` on a letter, a frame with a hand is taken
    as :func:`take_photo` takes a photo, at most every ``CAPTURE_EVERY_S``. Returns ``take_photo``'s outputs, the
    session's :class:`AutoCapture`, and :func:`calibration_changed`'s ``lines`` status lines and download box when a
    photo was taken (else they stay as they are)."""
    now, position = clock(), _position(position)
    if not isinstance(auto, AutoCapture) or auto.position != position:  # the stream's start, or a button moved on
        auto = AutoCapture(position, now, note=_ready_note(position))
    waiting = now - auto.asked_at < CAPTURE_SETTLE_S or (auto.taken_at is not None and now - auto.taken_at < CAPTURE_EVERY_S)
    if waiting and hand_model(models) is not None and position < len(CAPTURE_LETTERS):
        result = _capture(models, position, per_letter, calibration, auto.note)
    else:
        result = take_photo(models, frame, per_letter, position, calibration)
        auto = _after_frame(auto, result, calibration, now)
    changed = calibration_changed(models, result[2], lines) if result[2] is not calibration else (gr.skip(),) * (lines + 1)
    return (result[0], auto.note, *result[2:], auto, *changed)


def _after_frame(auto: AutoCapture, result: tuple, calibration, now: float) -> AutoCapture:
    """The automatic capture after :func:`take_photo` saw a frame: a no-hand frame only changes the note."""
    _, note, taken, position = result
    if taken is calibration:  # nothing taken: no hand (one short note, however many frames), a bad frame, or past Z
        return replace(auto, note=HAND_WORDS["auto_no_hand"] if note == HAND_WORDS["no_hand"] else note)
    if position == auto.position:
        return replace(auto, taken_at=now, note=note)
    return AutoCapture(position, now, note=f"{note} {_ready_note(position)}".strip())


def _ready_note(position: int) -> str:
    """What the automatic capture says while the person changes to the letter asked for (nothing past Z)."""
    return HAND_WORDS["auto_ready"].format(letter=CAPTURE_LETTERS[position]) if position < len(CAPTURE_LETTERS) else ""


def skip_letter(models: list[ModelSlot], per_letter, position, calibration) -> tuple:
    """Ask for the next letter (the skipped one keeps any photos it has)."""
    position = _position(position)
    if hand_model(models) is None or position == len(CAPTURE_LETTERS):
        return _capture(models, position, per_letter, calibration, HAND_WORDS["all_asked_note" if hand_model(models) else "no_model"])
    return _capture(models, position + 1, per_letter, calibration, HAND_WORDS["skipped"].format(letter=CAPTURE_LETTERS[position]))


def back_letter(models: list[ModelSlot], per_letter, position, calibration) -> tuple:
    """Ask for the previous letter again (its photos stay; *Redo letter* drops them)."""
    position = max(0, _position(position) - 1)
    note = HAND_WORDS["back"].format(letter=CAPTURE_LETTERS[position]) if hand_model(models) else ""
    return _capture(models, position, per_letter, calibration, note)


def redo_letter(models: list[ModelSlot], per_letter, position, calibration) -> tuple:
    """Drop the photos of the letter asked for, to take them again."""
    position = _position(position)
    if hand_model(models) is None or position == len(CAPTURE_LETTERS):
        return _capture(models, position, per_letter, calibration, HAND_WORDS["all_asked_note" if hand_model(models) else "no_model"])
    letter = CAPTURE_LETTERS[position]
    return _capture(models, position, per_letter, _without_letter(calibration, letter), HAND_WORDS["redo"].format(letter=letter))


def forget_hand(models: list[ModelSlot], per_letter) -> tuple:
    """Forget the session's calibration (every photo's landmarks) and start the capture again at A."""
    return _capture(models, 0, per_letter, None, HAND_WORDS["forgotten"] if hand_model(models) else "")


def load_calibration(models: list[ModelSlot], data, per_letter, position, calibration) -> tuple:
    """Make an uploaded calibration file (its bytes, in memory) the session's, once the landmark model accepts it;
    anything else is a one-line message and the session's calibration stays as it was."""
    slot = hand_model(models)
    if slot is None:
        return _capture(models, position, per_letter, calibration, HAND_WORDS["no_model"])
    if not data:
        return _capture(models, position, per_letter, calibration, HAND_WORDS["no_file"])
    try:
        loaded = Calibration.from_bytes(bytes(data), "That file")
        if not loaded.labels:
            raise CalibrationError("That file: a calibration without any photo's landmarks")
        loaded.bind(slot.classifier)  # refuses another landmark layout or classes the model does not know
    except AslError as error:
        return _capture(models, position, per_letter, calibration, f"⚠️ {_first_line(error)}")
    except Exception as error:  # e.g. a safetensors file cut short
        return _capture(models, position, per_letter, calibration, f"⚠️ That file: not a calibration file ({_first_line(error)})")
    note = HAND_WORDS["loaded"].format(photos=_count(len(loaded.labels), "photo"), calibrated=calibrated_words(loaded))
    return _capture(models, position, per_letter, loaded, note)


def calibration_base64(calibration) -> tuple[str, str]:
    """The session's calibration file as base64 (the page's JavaScript turns it into a download: nothing is written on
    the server), and a note; ``""`` and why when there is none."""
    if not isinstance(calibration, Calibration):
        return "", HAND_WORDS["nothing_to_download"]
    data = calibration.to_bytes()
    return base64.b64encode(data).decode("ascii"), HAND_WORDS["downloaded"].format(name=CALIBRATION_FILE_NAME, size=len(data))


def calibration_changed(models: list[ModelSlot], calibration, lines: int = 2) -> tuple:
    """After any change to the session's calibration: the status line for each tab that shows it, and an empty
    download box (a file made before the change is stale)."""
    return (*[calibration_status(models, calibration)] * lines, "")


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


# --- Wording ----------------------------------------------------------------------------------------------------
ABOUT = """
**ASL fingerspelling** spells words letter by letter with one hand in American Sign Language.
The models classify a single photo of a hand into **29 classes**: the letters **A–Z** plus **del**, **nothing**
(no hand) and **space**, the classes of the ASL Alphabet data set ([{dataset}](https://huggingface.co/datasets/{dataset})).

- **Custom CNN**: two convolution + max-pool blocks, a dense layer and a classifier on 64×64 inputs (a transformers model with remote code).
- **MobileNetV2**: timm's ImageNet MobileNetV2 fine-tuned on the same data (loaded through transformers' TimmWrapper).
- **Hand landmarks**: MediaPipe Hands finds the hand and its 21 landmarks (wrist, finger joints and tips); a small
  network classifies their positions, so the background and the light matter less. Its column shows the landmarks it
  found, cropped to the hand; when MediaPipe finds no hand it says **No hand found** instead of naming a letter.

**Limitations.** The training photos show few signers in front of few backgrounds, so accuracy on other signers,
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


YOUR_HAND_HELP = """
**Calibrate the hand-landmark model to your hand** (no retraining), letter by letter: after {per_letter} photos
(set below) of a letter the next one is asked for. **Automatic (webcam)**: start the webcam with its record button and
hold each letter asked for; {settle:g} s after a letter is asked, a frame is taken every {every:g} s while a hand is in
view (about two minutes for all 26 letters; the webcam stops after {limit} s: start it again to go on). **One photo at
a time**: take or upload a photo, then press **Take photo**. **Skip letter** moves on, **Redo letter** drops the
letter's photos, **Back** returns to the previous letter. The model then compares each hand it sees with yours, in
the Classify and Spell tabs, for this browser tab only.

Only the 21 hand landmarks of each photo are kept (never the photo), in this session's memory, never on the server's
disk; closing the tab or **Forget my hand** discards them. **Download my calibration** saves them to a small file
(`{file_name}`) that you can load again later.
"""

HAND_WORDS = {
    "no_model": "⚠️ **Calibration needs the hand-landmark model, which is not loaded here**, so this tab cannot calibrate.",
    "no_hand": "⚠️ No hand found in that photo — try again (the whole hand in view, in good light).",
    "taken": "Photo {taken} of {wanted} of **{letter}** taken.",
    "auto_ready": "Now show **{letter}** and hold it: photos start in a moment.",
    "auto_no_hand": "No hand found — hold your hand in view.",
    "letter_done": "✅ **{letter}** done ({photos}).",
    "skipped": "Skipped **{letter}**.",
    "back": "Back to **{letter}**.",
    "redo": "The photos of **{letter}** are dropped: take them again.",
    "all_asked": "### All {total} letters asked\n{progress}. Use **Back** to add to a letter, or download your calibration.",
    "all_asked_note": "Every letter has been asked: use **Back** to add to one.",
    "forgotten": "Your hand is forgotten: the calibration and its photos' landmarks are gone.",
    "no_file": "⚠️ No file: choose a calibration file (.safetensors).",
    "loaded": "Loaded a calibration of {photos}: the hand-landmark model is {calibrated}.",
    "nothing_to_download": "⚠️ Nothing to download yet: take photos or load a calibration first.",
    "downloaded": "Your calibration is downloading as `{name}` ({size:,} bytes).",
    "status_calibrated": "✋ {model}: {calibrated}.",
    "status_plain": "{model}: not calibrated (the *Your hand* tab adapts it to your hand).",
}
"""Everything the Your hand tab says, and the calibration line of the Classify and Spell tabs."""

DOWNLOAD_JS = f"""
(data) => {{
  if (!data) return;
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], {{type: "application/octet-stream"}}));
  const link = document.createElement("a");
  link.href = url;
  link.download = "{CALIBRATION_FILE_NAME}";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}}
"""
"""Saves the base64 of the session's calibration (a hidden textbox) as a file, in the browser: the server writes none."""


# --- Layout and events ------------------------------------------------------------------------------------------
def model_column(slot: ModelSlot, index: int) -> list:
    """One model's result column: its verdict (the letter, or "Unsure"), its top-5 bars, latency and, for a
    hand-landmark model, what it looked at (hidden for the pixel models, which look at the whole photo)."""
    with gr.Column(scale=1, min_width=240):  # three result columns beside the input on a laptop screen
        verdict_text = gr.Markdown(elem_id=f"verdict-{index}")
        label = gr.Label(num_top_classes=TOP_K, label=slot.name, show_heading=False, elem_id=f"label-{index}")
        latency = gr.Number(label=f"{slot.name} latency (ms)", precision=2, interactive=False)
        view = gr.Image(label="What it looked at", type="pil", format="jpeg",
                        interactive=False, height=240, visible=slot.looks_for_hands, elem_id=f"view-{index}")
        gr.Markdown(model_info(slot), elem_classes="model-info")
    return [label, latency, view, verdict_text]


def build_classify_tab(models: list[ModelSlot], examples: list[tuple[str, str]], ranking: tuple[list[str], str]):
    """The photo / live-webcam inputs and one result column per model, best first (call inside a Blocks context).
    Returns the photo input, its button, the live input, the outputs ``predict_all`` fills, in ``models`` order
    whatever the column order (the API's order does not depend on the scores), and the calibration line."""
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
            calibration_note = gr.Markdown(calibration_status(models, None), elem_classes="model-info", elem_id="calibration-note")
            if len(ranked) > 1:
                gr.Markdown(f"Models best first by {ranked_by}.", elem_classes="model-info", elem_id="ranking")
        result_components = {index: model_column(models[index], index) for index in columns}
    outputs = [component for index in range(len(models)) for component in result_components[index]] + [status]
    if examples:
        gr.Examples(examples=[[path] for path, _ in examples], inputs=[image_input], cache_examples=False,
                    label=f"Example photos ({', '.join(caption for _, caption in examples)}): click one",
                    elem_id="examples")
    return image_input, classify_button, live_input, outputs, calibration_note


def build_spell_tab(models: list[ModelSlot], ranking: tuple[list[str], str], calibration: gr.State) -> gr.Markdown:
    """The Spell tab's components and events (call inside a Blocks context); ``ranking`` picks the default model.
    Each session has its own ``SpellingMachine`` and its own webcam stream (:class:`LiveStream`, with the landmark
    model's hand tracker) in ``gr.State``s; the webcam stream feeds them one frame at a time, timed by the server clock.
    An uploaded video gets a stream of its own. ``calibration``: the session's (the landmark model uses it). Returns
    the tab's calibration line."""
    ready, ranked_by = ranking
    defaults = SpellingSettings()
    gr.Markdown(SPELL_HELP.format(per_second=1 / SPELL_STREAM_EVERY_S, limit=SPELL_TIME_LIMIT_S, fps=SPELL_VIDEO_FPS,
                                  max_video=MAX_VIDEO_SECONDS))
    if not ready:
        gr.Markdown("⚠️ **No model is loaded**, so nothing can be spelled.")
    with gr.Row():
        with gr.Column(scale=1):
            model = gr.Dropdown(ready, value=ready[0] if ready else None, label="Model", elem_id="spell-model",
                                info=f"best first by {ranked_by}")
            calibration_note = gr.Markdown(calibration_status(models, None), elem_classes="model-info",
                                           elem_id="spell-calibration-note")
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
    # The session's webcam stream (a hand tracker for the landmark model), created on the first frame. Every frame
    # stores it again, so it expires SPELL_STREAM_IDLE_S after the last one and Gradio's clean-up closes it.
    live = gr.State(None, time_to_live=SPELL_STREAM_IDLE_S, delete_callback=release_stream)

    settings = [model, hold, threshold]
    one_frame = functools.partial(spell_frame, models)
    webcam.stream(one_frame, inputs=[webcam, *settings, state, live, calibration], outputs=[text, held, state, live],
                  stream_every=SPELL_STREAM_EVERY_S, time_limit=SPELL_TIME_LIMIT_S, concurrency_limit=CONCURRENCY_LIMIT,
                  api_name="spell_stream", api_visibility="undocumented")
    # gradio_client cannot consume a stream event (it stops at the "process_streaming" message), so the same function
    # is also an ordinary endpoint, one frame per call, behind a button nobody sees.
    gr.Button(visible=False).click(one_frame, inputs=[webcam, *settings, state, live, calibration], outputs=[text, held, state, live],
                                   concurrency_limit=CONCURRENCY_LIMIT, api_name="spell")
    video_button.click(functools.partial(spell_video, models), inputs=[video, *settings, calibration], outputs=[text, held, state],
                       api_name="spell_video", preprocess=False)
    clear_button.click(clear_spelling, inputs=[state, live], outputs=[text, held, state, live], api_name="clear_spelling")
    return calibration_note


def build_your_hand_tab(models: list[ModelSlot], calibration: gr.State, status_lines: list[gr.Markdown]) -> None:
    """The Your hand tab (call inside a Blocks context): the guided capture (automatic from a webcam stream, or one photo
    at a time), download, upload and forget, all on the session's ``calibration`` state; every change also updates the other tabs' ``status_lines``. Without a landmark
    model it says so, and its buttons change nothing."""
    position = gr.State(0)
    # The automatic capture's timing (AutoCapture); it expires when the webcam stream has stopped, so that the next
    # start waits for the settle time again.
    auto = gr.State(None, time_to_live=SPELL_STREAM_IDLE_S)
    gr.Markdown(YOUR_HAND_HELP.format(per_letter=PHOTOS_PER_LETTER, file_name=CALIBRATION_FILE_NAME,
                                      settle=CAPTURE_SETTLE_S, every=CAPTURE_EVERY_S, limit=CAPTURE_TIME_LIMIT_S))
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Tabs():
                with gr.Tab("Automatic (webcam)", elem_id="hand-auto-tab"):
                    webcam = gr.Image(label="Your hand (webcam: press record, then hold each letter)", sources=["webcam"],
                                      streaming=True, type="pil", image_mode=None,
                                      webcam_options=gr.WebcamOptions(mirror=True), height=320, elem_id="hand-webcam")
                with gr.Tab("One photo at a time", elem_id="hand-manual-tab"):
                    photo = gr.Image(label="Your hand", sources=["webcam", "upload"], type="filepath", image_mode=None,
                                     webcam_options=gr.WebcamOptions(mirror=True), height=320, elem_id="hand-photo")
                    take_button = gr.Button("Take photo", variant="primary", elem_id="hand-take")
            per_letter = gr.Slider(1, 10, value=PHOTOS_PER_LETTER, step=1, label="Photos per letter", elem_id="hand-per-letter")
        with gr.Column(scale=1):
            prompt = gr.Markdown(capture_prompt(models, 0, PHOTOS_PER_LETTER, None), elem_id="hand-prompt")
            note = gr.Markdown(elem_id="hand-note")
            with gr.Row():
                back_button = gr.Button("Back", elem_id="hand-back")
                redo_button = gr.Button("Redo letter", elem_id="hand-redo")
                skip_button = gr.Button("Skip letter", elem_id="hand-skip")
            download_button = gr.Button("Download my calibration", elem_id="hand-download")
            upload = gr.File(label="Load a calibration file", file_types=[".safetensors"], type="binary", elem_id="hand-upload")
            forget_button = gr.Button("Forget my hand", variant="stop", elem_id="hand-forget")
            download_data = gr.Textbox(visible="hidden", elem_id="hand-download-data")

    capture_outputs = [prompt, note, calibration, position]
    changed = functools.partial(calibration_changed, models, lines=len(status_lines))
    moves = [(take_button.click, take_photo, [photo, per_letter], "take_photo"),
             (skip_button.click, skip_letter, [per_letter], "skip_letter"),
             (back_button.click, back_letter, [per_letter], "back_letter"),
             (redo_button.click, redo_letter, [per_letter], "redo_letter"),
             (upload.upload, load_calibration, [upload, per_letter], "load_calibration")]
    for trigger, handler, inputs, api_name in moves:
        trigger(functools.partial(handler, models), inputs=[*inputs, position, calibration], outputs=capture_outputs,
                api_name=api_name, preprocess=handler is not take_photo).then(  # the photo reaches open_image unprocessed
            changed, inputs=calibration, outputs=[*status_lines, download_data], api_visibility="private")
    forget_button.click(functools.partial(forget_hand, models), inputs=per_letter, outputs=capture_outputs,
                        api_name="forget_hand").then(changed, inputs=calibration, outputs=[*status_lines, download_data],
                                                     api_visibility="private")
    webcam.stream(functools.partial(auto_capture, models, lines=len(status_lines)),
                  inputs=[webcam, per_letter, position, calibration, auto],
                  outputs=[*capture_outputs, auto, *status_lines, download_data], stream_every=CAPTURE_STREAM_EVERY_S,
                  time_limit=CAPTURE_TIME_LIMIT_S, concurrency_limit=CONCURRENCY_LIMIT, api_visibility="private",
                  show_progress="hidden")  # the prompt stays readable while frames are on their way
    per_letter.change(functools.partial(capture_prompt, models), inputs=[position, per_letter, calibration], outputs=prompt,
                      api_visibility="private")
    download_button.click(calibration_base64, inputs=calibration, outputs=[download_data, note],
                          api_name="download_calibration").then(None, inputs=download_data, js=DOWNLOAD_JS)
    gr.Button(visible=False).click(functools.partial(calibration_status, models), inputs=calibration,
                                   outputs=status_lines[0], api_name="calibration_status")


def build_demo(models: list[ModelSlot], examples: list[tuple[str, str]] | None = None) -> gr.Blocks:
    """The Blocks app for the given (loaded or missing) models: a Classify tab (its photo and live-webcam inputs
    share the result columns, with the ``(path, caption)`` example photos below, if any), a Spell tab and a Your hand
    tab; the session's calibration (a ``gr.State``) made or loaded there is used by the other two."""
    predict = functools.partial(predict_all, models)
    ranking = best_first(models)
    missing = [slot for slot in models if not slot.ready]
    with gr.Blocks(title="ASL fingerspelling: CNN, MobileNetV2 and hand landmarks") as demo:
        gr.Markdown("# ASL fingerspelling recognition\nUpload, photograph or paste a hand sign: "
                    f"{len(models)} models name the letter (top 5 each). Or spell whole words in the *Spell* tab, and "
                    "calibrate the hand-landmark model to your hand in the *Your hand* tab.")
        if missing:
            gr.Markdown("\n\n".join(f"⚠️ **{slot.name} is not available**: {slot.error}" for slot in missing),
                        elem_id="missing-models")
        calibration = gr.State(None)  # this session's Calibration (the Your hand tab), in memory only
        with gr.Tabs():
            with gr.Tab("Classify a sign", id="classify"):
                image_input, classify_button, live_input, outputs, classify_note = build_classify_tab(models, examples or [], ranking)
            with gr.Tab("Spell", id="spell"):
                spell_note = build_spell_tab(models, ranking, calibration)
            with gr.Tab("Your hand", id="your-hand"):
                build_your_hand_tab(models, calibration, [classify_note, spell_note])
        with gr.Accordion("About: ASL fingerspelling, the 29 classes, limitations", open=False):
            gr.Markdown(ABOUT.format(dataset=DATASET_ID, max_side=MAX_SIDE, max_mp=MAX_PIXELS // 1_000_000,
                                     max_file=MAX_FILE_SIZE.upper(), examples_note=EXAMPLES_NOTE if examples else ""))

        gr.on([classify_button.click, image_input.change], predict, inputs=[image_input, calibration], outputs=outputs,
              api_name="predict", preprocess=False, trigger_mode="always_last")
        live_input.stream(predict, inputs=[live_input, calibration], outputs=outputs, stream_every=STREAM_EVERY_S,
                          time_limit=120, concurrency_limit=1, api_visibility="private")
    return demo


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

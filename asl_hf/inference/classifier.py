"""The one inference path: a loaded model and its image processor, class probabilities out.

Evaluation, the benchmark, the spelling scripts and the Space all classify through :class:`ImageClassifier`, so a
number measured here is what users get. Pixel models (the CNN, MobileNetV2) go through their saved image processor,
or a checked lean copy of it (:mod:`asl_hf.inference.lean`). The hand-landmark model goes through its processor's two
steps, find the hand and normalise it, so the hand it found is there to draw as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import numpy as np
import torch
from PIL import Image

from ..core.errors import AslError
from ..core.images import to_rgb
from .lean import lean_preprocessor_for
from .results import Classification, Prediction

DEFAULT_BATCH_SIZE = 32


class ImageInputError(AslError, TypeError):
    """Something other than an image was passed for classification."""


def _as_pil(image, index: int) -> Image.Image:
    if isinstance(image, Image.Image):
        return to_rgb(image)
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        return to_rgb(Image.fromarray(image))
    shape = f" with shape {image.shape} and dtype {image.dtype}" if isinstance(image, np.ndarray) else ""
    raise ImageInputError(
        f"image {index}: expected a PIL image or a uint8 HxW / HxWx3 / HxWx4 array, got {type(image).__name__}{shape}"
    )


class ImageClassifier:
    """An image processor + classification model pair in eval mode, with batched ``classify``/``predict``.

    Any processor whose outputs are the model's inputs works (``model(**processor(images))``); the CNN's and timm's
    processors are replaced by a checked lean copy, the fast path for batch-1 latency.
    """

    def __init__(self, processor, model: torch.nn.Module, device: str | torch.device = "cpu", batch_size: int = DEFAULT_BATCH_SIZE):
        self.processor = processor
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.batch_size = batch_size
        self.lean = None if self.detects_hands else lean_preprocessor_for(processor)
        """The same arithmetic as ``processor`` without its per-call overhead, when it is checked to match."""
        id2label = model.config.id2label
        self.labels: list[str] = [str(id2label[i]) for i in range(len(id2label))]
        """Class names in label-id order (the model's ``id2label``)."""
        self.onnx = None
        """A checked ONNX Runtime session for the pixel model's forward pass (:meth:`use_onnx`), or None: eager PyTorch."""
        self.calibration = None
        """A :class:`~asl_hf.inference.calibration.Calibration` every call uses unless it is given one
        (``load_classifier(..., calibration=PATH)``); None: the model's own answers."""
        self._no_hand_row = None
        self.dtype = model.dtype
        """The model's parameter dtype, read once (transformers walks every module to find it)."""
        self.runtime_note = "PyTorch"
        """Which runtime computes the logits and why, in words: ``ONNX Runtime (model.onnx)`` or ``PyTorch (<why not
        ONNX Runtime>)``; set by ``load_classifier``."""

    @property
    def runtime(self) -> str:
        """Which runtime computes the logits: ``"onnxruntime"`` or ``"eager"`` (PyTorch). Reports record it."""
        return "onnxruntime" if self.onnx is not None else "eager"

    def use_onnx(self, onnx, note: str = "") -> None:
        """Run the pixel model's forward pass with ``onnx`` (``pixel_values`` -> logits, checked against the weights by
        the caller); None goes back to eager PyTorch."""
        if onnx is not None and self.detects_hands:
            raise ValueError("the hand-landmark model's forward pass runs in PyTorch (its MLP is not exported)")
        self.onnx = onnx
        self.runtime_note = note or ("ONNX Runtime" if onnx is not None else "PyTorch")

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.labels)}

    @property
    def detects_hands(self) -> bool:
        """True for landmark models: their processor reports ``hand_found`` per image."""
        return "hand_found" in (getattr(self.processor, "model_input_names", None) or ())

    @property
    def no_hand_label(self) -> str | None:
        """The class a landmark model gives photos without a hand (None for pixel models)."""
        return getattr(self.model.config, "no_hand_label", None) if self.detects_hands else None

    def as_image(self, image, index: int = 0) -> Image.Image:
        """One input as the RGB PIL image the model sees (a PIL image or a uint8 array; anything else is an error)."""
        return _as_pil(image, index)

    def use_calibration(self, calibration) -> None:
        """Make ``calibration`` (a ``Calibration``, a path to one, or None) the default of every call; checked now."""
        self.calibration = self._checked_calibration(calibration)

    def _checked_calibration(self, calibration):
        if calibration is None:
            return None
        from .calibration import Calibration

        if not isinstance(calibration, Calibration):
            calibration = Calibration.load(calibration)
        calibration.bind(self)  # refuses a pixel model, another landmark layout or unknown classes
        return calibration

    def _images(self, images) -> list[Image.Image]:
        if isinstance(images, (Image.Image, np.ndarray)):
            raise ImageInputError("images must be a list of images; wrap a single image as [image]")
        if not isinstance(images, Sequence) or isinstance(images, (str, bytes)):
            raise ImageInputError(f"images must be a list of images, got {type(images).__name__}")
        return [_as_pil(image, i) for i, image in enumerate(images)]

    # --- one batch -------------------------------------------------------------------------------------------------
    def find_hands(self, images: Sequence[Image.Image]) -> list:
        """Landmark models: the hand in each photo (``HandDetection`` or None), by the processor's detector."""
        return [self.processor.detect(image) for image in images]

    def landmark_inputs(self, detections: Sequence) -> dict[str, torch.Tensor]:
        """The landmark model's inputs for found hands (zeros and ``hand_found`` False where there is none)."""
        landmarks = np.zeros((len(detections), 21, 3), np.float32)
        for row, detection in enumerate(detections):
            if detection is not None:
                landmarks[row] = self.processor.normalise(detection)
        found = torch.tensor([detection is not None for detection in detections], dtype=torch.bool)
        return {"landmarks": torch.from_numpy(landmarks).to(self.device), "hand_found": found.to(self.device)}

    def pixel_inputs(self, images: Sequence[Image.Image]) -> dict[str, torch.Tensor]:
        """A pixel model's ``pixel_values`` (lean path when it matches the saved processor) for upright RGB images, as
        the public calls make them (``to_rgb``)."""
        if self.lean is not None:
            pixels = self.lean(list(images), upright_rgb=True)  # the classifier's own images: to_rgb already ran
        else:
            pixels = self.processor(list(images), return_tensors="pt")["pixel_values"]
        return {"pixel_values": pixels.to(self.device, dtype=self.dtype)}

    def logits_of(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The model's logits (float32, CPU) for prepared inputs, from ONNX Runtime when the classifier uses it."""
        if "pixel_values" in inputs and "landmarks" not in inputs:
            if self.onnx is not None:
                return self.onnx(inputs["pixel_values"])
            return self.model(pixel_values=inputs["pixel_values"]).logits.float().cpu()
        return self.model(**inputs).logits.float().cpu()

    @torch.inference_mode()
    def _forward(self, chunk: list[Image.Image], find_hands: Callable | None = None) -> tuple[torch.Tensor, list | None]:
        """Logits of one batch and, for a landmark model, the detections they came from (``find_hands``: the photo
        path by default, a stream's tracker for video frames)."""
        if not self.detects_hands:
            return self.logits_of(self.pixel_inputs(chunk)), None
        detections = (find_hands or self.find_hands)(chunk)
        if all(detection is None for detection in detections):  # the model's answer for no hand, without running it
            return self._no_hand_logits().expand(len(chunk), -1).clone(), detections
        return self.logits_of(self.landmark_inputs(detections)), detections

    def _no_hand_logits(self) -> torch.Tensor:
        """The landmark model's logits for an image without a hand (one row, asked of the model once)."""
        if self._no_hand_row is None:
            self._no_hand_row = self.logits_of(self.landmark_inputs([None]))
        return self._no_hand_row

    def _run(self, images: Sequence[Image.Image], find_hands: Callable | None = None) -> tuple[torch.Tensor, list | None]:
        images = self._images(images)
        logits, detections = [], [] if self.detects_hands else None
        for start in range(0, len(images), self.batch_size):
            chunk_logits, chunk_detections = self._forward(images[start : start + self.batch_size], find_hands)
            logits.append(chunk_logits)
            if detections is not None:
                detections += chunk_detections
        return (torch.cat(logits) if logits else torch.empty(0, len(self.labels))), detections

    # --- public calls ----------------------------------------------------------------------------------------------
    def logits(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Raw logits ``[N, C]`` (float32, on the CPU), computed ``batch_size`` images at a time."""
        return self._run(images)[0]

    def _classified(self, images: Sequence[Image.Image], find_hands: Callable | None = None,
                    calibration=None) -> tuple[Classification, list | None]:
        logits, detections = self._run(images, find_hands)
        hand_found = None if detections is None else np.array([d is not None for d in detections], bool)
        probabilities = logits.softmax(-1)
        calibration = self._checked_calibration(calibration) if calibration is not None else self.calibration
        if calibration is not None and hand_found is not None and hand_found.any():
            probabilities[torch.from_numpy(hand_found)] = self._calibrated(calibration, [d for d in detections if d is not None])
        return Classification(probabilities.numpy(), hand_found), detections

    def _calibrated(self, calibration, detections: list) -> torch.Tensor:
        """Probabilities of found hands under a person's calibration (:mod:`asl_hf.inference.calibration`)."""
        from .calibration import calibrated_probabilities

        landmarks = torch.from_numpy(np.stack([self.processor.normalise(detection) for detection in detections]))
        return calibrated_probabilities(self, calibration.bind(self), landmarks)

    def classify(self, images: Sequence[Image.Image], calibration=None) -> Classification:
        """Probabilities and, for landmark models, which images showed a hand: one pass for both. ``calibration``: one
        person's :class:`~asl_hf.inference.calibration.Calibration` for this call (default: ``self.calibration``)."""
        return self._classified(images, calibration=calibration)[0]

    def predict_proba(self, images: Sequence[Image.Image], calibration=None) -> np.ndarray:
        """Softmax probabilities, ``[N, num_classes]`` float32, columns in ``self.labels`` order."""
        return self.classify(images, calibration).probabilities

    def predict_ids(self, images: Sequence[Image.Image]) -> list[int]:
        """The most likely label id of each image."""
        return self.logits(images).argmax(-1).tolist()

    def predictions_of(self, classification: Classification, detections: list | None = None, top_k: int = 5) -> list[Prediction]:
        """Each row's top ``top_k`` pairs (and the hand it classified, where ``detections`` are given); without a hand,
        only ``[(no_hand_label, 1.0)]``: no letter is listed for a photo whose hand the model never saw."""
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        probabilities, hand_found = classification
        scores, ids = torch.from_numpy(probabilities).topk(min(top_k, len(self.labels)), dim=-1)
        predictions = []
        for row, (row_ids, row_scores) in enumerate(zip(ids.tolist(), scores.tolist())):
            found = None if hand_found is None else bool(hand_found[row])
            top = [(self.labels[i], float(s)) for i, s in zip(row_ids, row_scores)]
            detection = detections[row] if detections is not None else None
            predictions.append(Prediction(top if found is not False else top[:1], found, detection))
        return predictions

    def predict_with_hands(self, images: Sequence[Image.Image], top_k: int = 5, calibration=None) -> list[Prediction]:
        """Each image's top ``top_k`` pairs, ``hand_found`` and (landmark models) the hand it classified."""
        return self.predictions_of(*self._classified(images, calibration=calibration), top_k=top_k)

    def predict(self, images: Sequence[Image.Image], top_k: int = 5, calibration=None) -> list[list[tuple[str, float]]]:
        """The ``top_k`` most likely ``(label, probability)`` pairs of each image, best first (for a landmark model
        and a photo without a hand: only ``(no_hand_label, 1.0)``; :meth:`predict_with_hands` says which)."""
        return [prediction.top for prediction in self.predict_with_hands(images, top_k, calibration)]

    def stream(self, calibration=None, **tracker_options):
        """A :class:`~asl_hf.inference.stream.FrameStream` for the ordered frames of ONE video or webcam stream:
        a landmark model tracks the hand from frame to frame (MediaPipe's video mode; ``tracker_options`` go to
        :class:`~asl_hf.inference.hands.HandTracker`) instead of searching each frame as a new photo; a pixel model
        classifies each frame as it would a photo. ``calibration``: one person's calibration for every frame of the
        stream (default: ``self.calibration``). Close it when the stream ends (``with classifier.stream() as stream:
        ...``); never share one between streams."""
        from .stream import FrameStream

        return FrameStream(self, calibration=calibration, **tracker_options)

    def draw(self, image: Image.Image, detection, crop_margin: float | None = 0.25) -> Image.Image:
        """What a landmark model looked at: the photo with the found hand's 21 points drawn, cropped to the hand."""
        return self.processor.draw(to_rgb(image), detection, crop_margin)


__all__ = ["DEFAULT_BATCH_SIZE", "Classification", "ImageClassifier", "ImageInputError", "Prediction"]

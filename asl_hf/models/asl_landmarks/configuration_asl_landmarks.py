"""Configuration of the hand-landmark classifier (21 MediaPipe hand landmarks in, 29 ASL classes out).

Self-contained on purpose (transformers only): ``save_pretrained`` copies this file beside the weights so the
model loads with ``trust_remote_code=True`` where ``asl_hf`` is not installed.
"""

from transformers import PretrainedConfig

ASL_CLASS_NAMES = [chr(c) for c in range(ord("A"), ord("Z") + 1)] + ["del", "nothing", "space"]
"""The 29 classes of the ASL Alphabet data set, in label-id order (duplicated from ``asl_hf.constants``
because this file must not import ``asl_hf``)."""


class AslLandmarksConfig(PretrainedConfig):
    r"""
    A small multilayer perceptron over one hand's landmarks, normalised by the image processor for position, scale
    and handedness (wrist at the origin, largest wrist-to-point distance 1, left hands mirrored onto right ones).

    Args:
        num_landmarks (`int`, defaults to 21): points per hand (MediaPipe Hands' 21).
        num_coordinates (`int`, defaults to 3): x, y and the relative depth z of each point.
        hidden_sizes (`list[int]`, defaults to `[256, 256]`): widths of the hidden layers (Linear, BatchNorm, ReLU,
            dropout each).
        dropout (`float`, defaults to 0.3): dropout after each hidden layer.
        mirror_test_time (`bool`, defaults to `True`): in eval mode, also classify the mirrored hand and answer with
            the surer of the two views (the one whose top probability is higher). MediaPipe's left/right call is wrong on some photos, and a
            hand mirrored the wrong way is another letter's shape to the classifier; training never mirrors (random
            flips would teach mirror-pair letters to look alike).
        no_hand_label (`str`, defaults to `"nothing"`): the class a photo gets when the processor found no hand
            (``hand_found`` false): the data set's own class for "no sign". The logits put all the probability there,
            so a pipeline answers "nothing" with score 1.0 instead of guessing a letter.
        num_labels / id2label / label2id: the classes; default the 29 ASL Alphabet classes.
    """

    model_type = "asl_landmarks"

    def __init__(
        self,
        num_landmarks: int = 21,
        num_coordinates: int = 3,
        hidden_sizes: list[int] | None = None,
        dropout: float = 0.3,
        mirror_test_time: bool = True,
        no_hand_label: str = "nothing",
        **kwargs,
    ):
        if kwargs.get("id2label") is None and kwargs.get("num_labels") is None:
            kwargs["id2label"] = dict(enumerate(ASL_CLASS_NAMES))
        if kwargs.get("id2label") is not None and kwargs.get("label2id") is None:
            kwargs["label2id"] = {name: int(i) for i, name in kwargs["id2label"].items()}
        hidden_sizes = [256, 256] if hidden_sizes is None else list(hidden_sizes)
        if not (isinstance(num_landmarks, int) and num_landmarks > 1):
            raise ValueError(f"num_landmarks must be an integer > 1, got {num_landmarks!r}")
        if num_coordinates not in (2, 3):
            raise ValueError(f"num_coordinates must be 2 (x, y) or 3 (x, y, z), got {num_coordinates!r}")
        if not hidden_sizes or not all(isinstance(h, int) and h > 0 for h in hidden_sizes):
            raise ValueError(f"hidden_sizes must be a non-empty list of positive integers, got {hidden_sizes!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.num_landmarks = num_landmarks
        self.num_coordinates = num_coordinates
        self.hidden_sizes = hidden_sizes
        self.dropout = float(dropout)
        self.mirror_test_time = bool(mirror_test_time)
        self.no_hand_label = no_hand_label
        super().__init__(**kwargs)
        if self.no_hand_label not in self.label2id:
            raise ValueError(f"no_hand_label {no_hand_label!r} is not one of the labels {sorted(self.label2id)}")


__all__ = ["AslLandmarksConfig"]

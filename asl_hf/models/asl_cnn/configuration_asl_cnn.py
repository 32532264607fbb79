"""Configuration of the compact ASL CNN (two conv + max-pool blocks, flatten, dense, classifier).

Self-contained on purpose: ``save_pretrained`` copies this file next to the weights so the model loads
with ``trust_remote_code=True`` where ``asl_hf`` is not installed. Only transformers and relative imports.

It keeps an explicit ``__init__`` (transformers 5 turns configs into dataclasses but still accepts a
custom ``__init__``, the usual shape of remote code) so the saved folder also loads with older
transformers releases.
"""

from transformers import PretrainedConfig

ASL_CLASS_NAMES = [chr(c) for c in range(ord("A"), ord("Z") + 1)] + ["del", "nothing", "space"]
"""The 29 classes of the ASL Alphabet data set, in label-id order (duplicated from ``asl_hf.constants``
because this file must not import ``asl_hf``)."""


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class AslCnnConfig(PretrainedConfig):
    r"""
    Defaults keep the reference network's shape (64x64 RGB input, conv 3x3 (32 filters) + max-pool 2, conv 3x3
    (64 filters) + max-pool 2, flatten, dense, dropout, 29-way classifier) with BatchNorm after both convolutions and
    the dense layer, and a 256-unit dense layer: on real photos the reference shape (no BatchNorm, 64 units) reached
    16-32% after 10-20 epochs, BatchNorm on the dense layer alone took it to 77-78% in 8 epochs (see README).

    Args:
        image_size (`int`, defaults to 64): height and width of the (square) input; the flatten layer depends on it.
        num_channels (`int`, defaults to 3): input channels (RGB).
        conv_channels (`list[int]`, defaults to `[32, 64]`): filters of each conv + max-pool block (one block per entry).
        kernel_sizes (`list[int]`, defaults to 3 for every block): kernel size of each block's convolution
            ("valid" padding, as in the Keras reference).
        pool_size (`int`, defaults to 2): max-pool window and stride.
        hidden_size (`int`, defaults to 256): width of the dense layer after flattening.
        dropout (`float`, defaults to 0.2): dropout between the dense layer and the classifier (0.5 left the
            64-unit dense layer unable to learn in our runs: loss stuck at ln 29).
        use_batch_norm (`bool`, defaults to `True`): BatchNorm after each convolution and after the dense layer.
            The dense layer has ~12,500 inputs; without normalising its output, Adam's steps kill or saturate its
            ReLUs and the network barely learns real photos. `False` gives the plain reference network.
        image_mean / image_std (`list[float]`, default 0.5 per channel): the normalisation the model is trained
            with, ``(x / 255 - mean) / std``; 0.5/0.5 maps pixels to [-1, 1] and needs no data-set statistics
            (the network is trained from scratch). ``build_image_processor`` writes them to preprocessor_config.json.
        num_labels / id2label / label2id: the classes; default the 29 ASL Alphabet classes.
    """

    model_type = "asl_cnn"

    def __init__(
        self,
        image_size: int = 64,
        num_channels: int = 3,
        conv_channels: list[int] | None = None,
        kernel_sizes: list[int] | None = None,
        pool_size: int = 2,
        hidden_size: int = 256,
        dropout: float = 0.2,
        use_batch_norm: bool = True,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        **kwargs,
    ):
        if kwargs.get("id2label") is None and kwargs.get("num_labels") is None:
            kwargs["id2label"] = dict(enumerate(ASL_CLASS_NAMES))
        if kwargs.get("id2label") is not None and kwargs.get("label2id") is None:
            kwargs["label2id"] = {name: int(i) for i, name in kwargs["id2label"].items()}
        self.image_size = image_size
        self.num_channels = num_channels
        self.conv_channels = list(conv_channels) if conv_channels is not None else [32, 64]
        self.kernel_sizes = list(kernel_sizes) if kernel_sizes is not None else [3] * len(self.conv_channels)
        self.pool_size = pool_size
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.use_batch_norm = use_batch_norm
        default_stats = [0.5] * (num_channels if _is_positive_int(num_channels) else 3)
        self.image_mean = list(image_mean) if image_mean is not None else default_stats
        self.image_std = list(image_std) if image_std is not None else list(default_stats)
        super().__init__(**kwargs)
        self._check_values()

    def _check_values(self) -> None:
        """Fail at construction, with the offending value, rather than deep inside the model's first forward."""
        for name in ("image_size", "num_channels", "pool_size", "hidden_size"):
            if not _is_positive_int(getattr(self, name)):
                raise ValueError(f"AslCnnConfig: {name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("conv_channels", "kernel_sizes"):
            values = getattr(self, name)
            if not values or not all(_is_positive_int(v) for v in values):
                raise ValueError(f"AslCnnConfig: {name} must be a non-empty list of positive integers, got {values!r}")
        if len(self.kernel_sizes) != len(self.conv_channels):
            raise ValueError(
                f"AslCnnConfig: kernel_sizes ({self.kernel_sizes}) and conv_channels ({self.conv_channels}) must have the same length"
            )
        if not _is_number(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"AslCnnConfig: dropout must be a number in [0, 1), got {self.dropout!r}")
        if not isinstance(self.use_batch_norm, bool):
            raise ValueError(f"AslCnnConfig: use_batch_norm must be true or false, got {self.use_batch_norm!r}")
        if len(self.image_mean) != self.num_channels or len(self.image_std) != self.num_channels:
            raise ValueError(
                f"AslCnnConfig: image_mean and image_std need {self.num_channels} values (one per channel), "
                f"got {self.image_mean} and {self.image_std}"
            )
        if not all(_is_number(v) for v in self.image_mean) or not all(_is_number(v) and v > 0 for v in self.image_std):
            raise ValueError(f"AslCnnConfig: image_mean must be numbers and image_std positive numbers, got {self.image_mean} and {self.image_std}")
        if not self.num_labels or self.num_labels < 1:
            raise ValueError(f"AslCnnConfig: num_labels must be at least 1, got {self.num_labels!r}")
        sizes = self.feature_map_sizes()
        if min(sizes) < 1:
            raise ValueError(
                f"AslCnnConfig: image_size {self.image_size} is too small for {len(self.conv_channels)} conv + pool blocks "
                f"(kernels {self.kernel_sizes}, pool {self.pool_size}): feature map sides would be {sizes}"
            )

    def feature_map_sizes(self) -> list[int]:
        """Side of each block's output: a 'valid' convolution (side - kernel + 1) then a max-pool (floor division)."""
        sizes, side = [], self.image_size
        for kernel in self.kernel_sizes:
            side = max(side - kernel + 1, 0) // self.pool_size
            sizes.append(side)
        return sizes

    def feature_map_size(self) -> int:
        """Side of the last block's output, which the flatten layer (and so the dense layer's width) depends on."""
        return self.feature_map_sizes()[-1]


__all__ = ["AslCnnConfig"]

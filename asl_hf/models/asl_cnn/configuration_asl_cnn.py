"""Configuration of the compact ASL CNN (two conv + max-pool blocks, flatten, dense, classifier).

Self-contained on purpose: ``save_pretrained`` copies this file next to the weights so the model loads
with ``trust_remote_code=True`` where ``asl_hf`` is not installed. Only relative imports.
"""

from transformers import PretrainedConfig

ASL_CLASS_NAMES = [chr(c) for c in range(ord("A"), ord("Z") + 1)] + ["del", "nothing", "space"]


class AslCnnConfig(PretrainedConfig):
    r"""
    Args:
        image_size (`int`, defaults to 64): height and width of the (square) input; the flatten layer depends on it.
        num_channels (`int`, defaults to 3): input channels (RGB).
        conv_channels (`list[int]`, defaults to `[32, 64]`): filters of each conv + max-pool block.
        kernel_sizes (`list[int]`, defaults to `[3, 3]`): kernel size of each block's convolution ("valid" padding, as in the Keras reference).
        pool_size (`int`, defaults to 2): max-pool window and stride.
        hidden_size (`int`, defaults to 64): width of the dense layer after flattening.
        dropout (`float`, defaults to 0.5): dropout before the classifier.
        use_batch_norm (`bool`, defaults to `False`): BatchNorm after each convolution (not in the reference
            architecture; an option for deeper or wider variants).
        image_mean / image_std (`list[float]`): normalisation the model was trained with (saved in the image processor too).
        num_labels / id2label / label2id: the classes; defaults to the 29 ASL Alphabet classes.
    """

    model_type = "asl_cnn"

    def __init__(
        self,
        image_size: int = 64,
        num_channels: int = 3,
        conv_channels: list[int] | None = None,
        kernel_sizes: list[int] | None = None,
        pool_size: int = 2,
        hidden_size: int = 64,
        dropout: float = 0.5,
        use_batch_norm: bool = False,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        **kwargs,
    ):
        if "id2label" not in kwargs and "num_labels" not in kwargs:
            kwargs["id2label"] = dict(enumerate(ASL_CLASS_NAMES))
            kwargs["label2id"] = {name: i for i, name in enumerate(ASL_CLASS_NAMES)}
        self.image_size = image_size
        self.num_channels = num_channels
        self.conv_channels = list(conv_channels) if conv_channels is not None else [32, 64]
        self.kernel_sizes = list(kernel_sizes) if kernel_sizes is not None else [3] * len(self.conv_channels)
        self.pool_size = pool_size
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.use_batch_norm = use_batch_norm
        self.image_mean = list(image_mean) if image_mean is not None else [0.5, 0.5, 0.5]
        self.image_std = list(image_std) if image_std is not None else [0.5, 0.5, 0.5]
        super().__init__(**kwargs)
        self._validate()

    def _validate(self) -> None:
        if len(self.kernel_sizes) != len(self.conv_channels):
            raise ValueError(f"kernel_sizes ({self.kernel_sizes}) and conv_channels ({self.conv_channels}) must have the same length")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if len(self.image_mean) != self.num_channels or len(self.image_std) != self.num_channels:
            raise ValueError(f"image_mean and image_std need {self.num_channels} values (one per channel)")
        if self.feature_map_size() < 1:
            raise ValueError(f"image_size {self.image_size} is too small for {len(self.conv_channels)} conv + pool blocks")

    def feature_map_size(self) -> int:
        """Side of the last block's output: each block is a 'valid' convolution then a max-pool."""
        size = self.image_size
        for kernel in self.kernel_sizes:
            size = (size - kernel + 1) // self.pool_size
        return size


__all__ = ["AslCnnConfig"]

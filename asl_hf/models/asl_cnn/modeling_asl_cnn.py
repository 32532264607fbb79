"""The compact ASL CNN as a transformers model: two conv + max-pool blocks, flatten, dense, classifier.

Self-contained (transformers and relative imports only) so that ``save_pretrained`` can copy it beside the
weights and ``AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True)`` works anywhere.
"""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput

from .configuration_asl_cnn import AslCnnConfig


class AslCnnPreTrainedModel(PreTrainedModel):
    """Ties the CNN to its config class and its weight initialisation (what ``from_pretrained`` needs)."""

    config_class = AslCnnConfig
    base_model_prefix = "asl_cnn"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    _no_split_modules = []  # under a megabyte of weights: never worth splitting across devices
    supports_gradient_checkpointing = False  # four layers: nothing to gain

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Kaiming (He) normal for the layers followed by a ReLU, Xavier for the classifier, zero biases.

        transformers only calls this for modules whose weights were not loaded from a checkpoint.
        """
        if isinstance(module, nn.Conv2d) or (isinstance(module, nn.Linear) and module is not getattr(self, "classifier", None)):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
            module.reset_running_stats()


class AslCnnForImageClassification(AslCnnPreTrainedModel):
    """conv-(BatchNorm)-ReLU-max-pool blocks, flatten, dense-(BatchNorm)-ReLU, dropout, linear classifier.

    Returns raw logits (``ImageClassifierOutput.logits``); softmax belongs to the caller (the pipeline applies it).
    The input size is fixed by the flatten layer: ``pixel_values`` must be ``(batch, num_channels, image_size,
    image_size)`` floats, as the saved image processor produces. ``hidden_states`` (on request) holds each
    block's feature map, then the dense layer's output.
    """

    def __init__(self, config: AslCnnConfig):
        super().__init__(config)
        blocks = []
        in_channels = config.num_channels
        for out_channels, kernel in zip(config.conv_channels, config.kernel_sizes):
            layers = [nn.Conv2d(in_channels, out_channels, kernel_size=kernel)]
            if config.use_batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers += [nn.ReLU(), nn.MaxPool2d(config.pool_size)]
            blocks.append(nn.Sequential(*layers))
            in_channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        side = config.feature_map_size()
        self.flatten = nn.Flatten()
        self.dense = nn.Linear(in_channels * side * side, config.hidden_size)
        # BatchNorm on the dense layer's output: with ~12,500 inputs, Adam's per-weight steps move its output so far
        # that the ReLUs die or saturate; normalising it is what lets this layer learn at all on real photos.
        self.dense_norm = nn.BatchNorm1d(config.hidden_size) if config.use_batch_norm else nn.Identity()
        self.activation = nn.ReLU()
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _check_input(self, pixel_values) -> None:
        """One clear error naming expected and actual, instead of a shape mismatch deep in the dense layer."""
        expected = (self.config.num_channels, self.config.image_size, self.config.image_size)
        expected_text = f"(batch, {expected[0]}, {expected[1]}, {expected[2]})"
        if not isinstance(pixel_values, torch.Tensor):
            raise TypeError(f"pixel_values must be a torch.Tensor of shape {expected_text}, got {type(pixel_values).__name__}")
        if not pixel_values.is_floating_point():
            raise ValueError(
                f"pixel_values must be a float tensor (rescaled and normalised by the image processor), got {pixel_values.dtype}"
            )
        if pixel_values.ndim != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise ValueError(
                f"pixel_values must have shape {expected_text}, got {tuple(pixel_values.shape)}; "
                "resize with the model's image processor (the flatten layer needs a fixed size)"
            )

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ImageClassifierOutput | tuple:
        r"""
        labels (`torch.LongTensor` of shape `(batch,)`, *optional*): class ids; the loss follows transformers'
            image-classification convention (cross entropy for single-label, `config.problem_type` for the rest).
        """
        if pixel_values is None:
            raise ValueError("pixel_values is required")
        self._check_input(pixel_values)
        output_hidden_states = output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        return_dict = return_dict if return_dict is not None else self.config.return_dict

        features = pixel_values.to(self.dense.weight.dtype)
        hidden_states = ()
        for block in self.blocks:
            features = block(features)
            hidden_states += (features,)
        dense = self.dropout(self.activation(self.dense_norm(self.dense(self.flatten(features)))))
        hidden_states += (dense,)
        logits = self.classifier(dense)

        loss = self.loss_function(labels, logits, self.config, **kwargs) if labels is not None else None
        hidden_states = hidden_states if output_hidden_states else None
        if not return_dict:
            output = (logits, hidden_states) if output_hidden_states else (logits,)
            return ((loss,) + output) if loss is not None else output
        return ImageClassifierOutput(loss=loss, logits=logits, hidden_states=hidden_states)


__all__ = ["AslCnnPreTrainedModel", "AslCnnForImageClassification"]

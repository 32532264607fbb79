"""The hand-landmark classifier as a transformers model: normalised landmarks in, class logits out.

Self-contained (transformers and relative imports only) so that ``save_pretrained`` can copy it beside the
weights and ``AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True)`` works anywhere.
The landmarks come from the saved image processor (``AslLandmarksImageProcessor``: MediaPipe Hands), so
``pipeline("image-classification")`` takes photos like the other two models.
"""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput

from .configuration_asl_landmarks import AslLandmarksConfig

NO_HAND_LOGIT = -20.0
"""The logit of every other class when no hand was found (the no-hand label gets 0): softmax puts 1 - 6e-8 on the
no-hand label, and a cross-entropy loss on such a row stays finite (20) instead of swamping the mean."""


class AslLandmarksPreTrainedModel(PreTrainedModel):
    """Ties the model to its config class and weight initialisation (what ``from_pretrained`` needs)."""

    config_class = AslLandmarksConfig
    base_model_prefix = "asl_landmarks"
    main_input_name = "landmarks"
    _no_split_modules = []
    supports_gradient_checkpointing = False

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Kaiming normal for the ReLU layers, Xavier for the classifier, zero biases, fresh BatchNorm."""
        if isinstance(module, nn.Linear):
            if module is getattr(self, "classifier", None):
                nn.init.xavier_uniform_(module.weight)
            else:
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
            module.reset_running_stats()


class AslLandmarksForImageClassification(AslLandmarksPreTrainedModel):
    """Flattened landmarks -> [Linear, BatchNorm, ReLU, dropout] x len(hidden_sizes) -> linear classifier.

    ``landmarks``: ``(batch, num_landmarks, 3)`` floats, normalised by the image processor. ``hand_found``:
    ``(batch,)`` bools; rows without a hand get all their probability on ``config.no_hand_label``. In eval mode with
    ``config.mirror_test_time`` the logits are those of the hand or of its mirror image, whichever view is surer
    (its top probability is higher): the same top class as taking the larger probability of each class.
    """

    def __init__(self, config: AslLandmarksConfig):
        super().__init__(config)
        layers, width = [], config.num_landmarks * config.num_coordinates
        for hidden in config.hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            width = hidden
        self.mlp = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, config.num_labels)
        self.post_init()

    def _check_input(self, landmarks) -> None:
        expected = (self.config.num_landmarks, self.config.num_coordinates)
        if not isinstance(landmarks, torch.Tensor) or not landmarks.is_floating_point():
            raise TypeError(f"landmarks must be a float tensor of shape (batch, {expected[0]}, {expected[1]}), got {type(landmarks).__name__}")
        if landmarks.ndim != 3 or tuple(landmarks.shape[1:]) != expected:
            raise ValueError(
                f"landmarks must have shape (batch, {expected[0]}, {expected[1]}), got {tuple(landmarks.shape)}; "
                "make them with the model's image processor"
            )

    def hidden_layers(self, landmarks: torch.Tensor) -> list[torch.Tensor]:
        """Each hidden layer's output (after its ReLU) for ``(batch, num_landmarks, num_coordinates)`` landmarks; the last
        is what the classifier reads. A calibration to one person compares hands in this space."""
        hidden, outputs = landmarks.flatten(1).to(self.classifier.weight.dtype), []
        for layer in self.mlp:
            hidden = layer(hidden)
            if isinstance(layer, nn.ReLU):
                outputs.append(hidden)
        return outputs

    def view_logits(self, landmarks: torch.Tensor) -> torch.Tensor:
        """The logits of these landmarks as they are (no mirrored test-time view, no no-hand rows)."""
        return self.classifier(self.mlp(landmarks.flatten(1).to(self.classifier.weight.dtype)))

    def _logits(self, landmarks: torch.Tensor) -> torch.Tensor:
        return self.view_logits(landmarks)

    @staticmethod
    def _surer_view(logits: torch.Tensor, mirrored_logits: torch.Tensor) -> torch.Tensor:
        """Per row, the logits of the view (the hand or its mirror image) whose top probability is higher. Its top
        class is the class with the highest probability in either view; its probabilities are one softmax, which a
        temperature can calibrate (a renormalised maximum of both views splits a row between two letters whenever
        the views disagree, and no temperature fixes that)."""
        mirror_surer = mirrored_logits.softmax(-1).amax(-1) > logits.softmax(-1).amax(-1)
        return torch.where(mirror_surer.unsqueeze(-1), mirrored_logits, logits)

    def forward(
        self,
        landmarks: torch.Tensor | None = None,
        hand_found: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ImageClassifierOutput | tuple:
        r"""
        hand_found (`torch.BoolTensor` of shape `(batch,)`, *optional*): false where the photo showed no hand (its
            landmarks are ignored); all true when omitted.
        labels (`torch.LongTensor` of shape `(batch,)`, *optional*): class ids for the cross-entropy loss.
        """
        if landmarks is None:
            raise ValueError("landmarks is required (the image processor makes them from photos)")
        self._check_input(landmarks)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        logits = self._logits(landmarks)
        if self.config.mirror_test_time and not self.training:
            mirrored = landmarks.clone()
            mirrored[..., 0] = -mirrored[..., 0]
            logits = self._surer_view(logits, self._logits(mirrored))
        if hand_found is not None:
            no_hand = torch.full_like(logits, NO_HAND_LOGIT)
            no_hand[:, self.config.label2id[self.config.no_hand_label]] = 0.0
            logits = torch.where(hand_found.to(torch.bool).view(-1, 1).to(logits.device), logits, no_hand)
        loss = self.loss_function(labels, logits, self.config, **kwargs) if labels is not None else None
        if not return_dict:
            return (loss, logits) if loss is not None else (logits,)
        return ImageClassifierOutput(loss=loss, logits=logits)


__all__ = ["AslLandmarksPreTrainedModel", "AslLandmarksForImageClassification"]

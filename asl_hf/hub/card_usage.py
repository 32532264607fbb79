"""The usage snippets of a model card, one per model kind: what a user copies to run the model."""

from __future__ import annotations

from .card_sections import MEDIAPIPE_REQUIREMENT
from .training_run import TrainingRun


def _landmarks_usage(repo_id: str) -> str:
    return f"""The landmarks come from MediaPipe Hands, so install it first, then load with `trust_remote_code=True` (the
model, its configuration and the MediaPipe image processor ship as code next to the weights):

```bash
pip install "{MEDIAPIPE_REQUIREMENT}"   # the release that bundles the hand models; it needs protobuf<5
```

```python
from transformers import pipeline

classifier = pipeline("image-classification", model="{repo_id}", trust_remote_code=True)
print(classifier("hand.jpg", top_k=3))  # [{{'label': 'nothing', 'score': 1.0}}, ...] when no hand is found
```

To tell "no hand found" apart from the `nothing` sign, read the processor's `hand_found`:

```python
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

processor = AutoImageProcessor.from_pretrained("{repo_id}", trust_remote_code=True)
model = AutoModelForImageClassification.from_pretrained("{repo_id}", trust_remote_code=True).eval()
inputs = processor(Image.open("hand.jpg").convert("RGB"), return_tensors="pt")
if not inputs["hand_found"][0]:
    print("no hand found")
else:
    with torch.no_grad():
        logits = model(**inputs).logits
    print(model.config.id2label[logits.argmax(-1).item()])
```"""


def usage_section(run: TrainingRun, repo_id: str) -> str:
    if run.kind == "landmarks":
        return _landmarks_usage(repo_id)
    if run.kind == "cnn":
        return f"""The architecture ships as remote code next to the weights, so `trust_remote_code=True` is needed
(read `modeling_asl_cnn.py` first: it is ~100 lines of PyTorch).

```python
from transformers import pipeline

classifier = pipeline("image-classification", model="{repo_id}", trust_remote_code=True)
print(classifier("hand.jpg", top_k=3))
```

```python
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

processor = AutoImageProcessor.from_pretrained("{repo_id}")
model = AutoModelForImageClassification.from_pretrained("{repo_id}", trust_remote_code=True).eval()
inputs = processor(Image.open("hand.jpg").convert("RGB"), return_tensors="pt")
with torch.no_grad():
    logits = model(**inputs).logits
print(model.config.id2label[logits.argmax(-1).item()])
```"""
    return f"""With timm (the saved `config.json` rebuilds the architecture; `pretrained=True` loads *these* weights):

```python
import timm
import torch
from PIL import Image

model = timm.create_model("hf-hub:{repo_id}", pretrained=True).eval()
transform = timm.data.create_transform(**timm.data.resolve_model_data_config(model))
with torch.no_grad():
    logits = model(transform(Image.open("hand.jpg").convert("RGB")).unsqueeze(0))
print(model.pretrained_cfg["label_names"][logits.argmax(-1).item()])
```

With transformers (its `TimmWrapper` loads timm checkpoints, no remote code):

```python
from transformers import pipeline

classifier = pipeline("image-classification", model="{repo_id}")
print(classifier("hand.jpg", top_k=3))
```"""

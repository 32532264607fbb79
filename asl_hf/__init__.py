"""ASL fingerspelling recognition on the Hugging Face stack.

Importing the package registers the custom CNN with transformers' Auto classes, so
``AutoModelForImageClassification.from_pretrained(folder)`` works for it once ``asl_hf`` is imported
(and with ``trust_remote_code=True`` anywhere, without this package).
"""

from .core.constants import CLASS_NAMES, ID2LABEL, LABEL2ID, NUM_CLASSES
from .models import AslCnnConfig, AslCnnForImageClassification, build_image_processor

__version__ = "0.1.0"

__all__ = [
    "AslCnnConfig",
    "AslCnnForImageClassification",
    "CLASS_NAMES",
    "ID2LABEL",
    "LABEL2ID",
    "NUM_CLASSES",
    "__version__",
    "build_image_processor",
]

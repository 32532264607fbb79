"""Writing a transformers model folder (weights, config, code, image processor) for the project's own models."""

from __future__ import annotations

import os
from pathlib import Path


def save_model_folder(model, processor, output_dir: str | os.PathLike) -> Path:
    """``save_pretrained`` of the model (config.json with auto_map, model.safetensors, its code files) and of its image
    processor (preprocessor_config.json); fails loudly if no safetensors weights were written. Returns the folder."""
    output_dir = Path(output_dir)
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    if not (output_dir / "model.safetensors").is_file():
        raise RuntimeError(f"{output_dir}: save_pretrained wrote no model.safetensors")
    return output_dir

"""Training with Accelerate: arguments, model bundles, phases/schedules and the loop."""

from .arguments import build_parser, parse_args
from .loop import train

__all__ = ["build_parser", "parse_args", "train"]

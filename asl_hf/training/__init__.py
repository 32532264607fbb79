"""Training with Accelerate: arguments resolved into a plan, model bundles, input paths, phases and the loop."""

from .arguments import build_parser, parse_args
from .loop import train
from .plan import TrainingPlan

__all__ = ["TrainingPlan", "build_parser", "parse_args", "train"]

"""The main job: data, every model trained with ``accelerate launch``, the comparison and the extra test folders."""

from .main_job import JobResult, JobSpec, run_main_job

__all__ = ["JobResult", "JobSpec", "run_main_job"]

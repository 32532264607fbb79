"""The ground floor every other part stands on: class names, user-facing errors, image conversion, command-line
error handling. Nothing here imports another part of ``asl_hf``."""

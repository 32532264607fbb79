"""What every command line shares: one-line errors for bad input, exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run ``main``; user-facing errors (``AslError``) print ``error: ...`` and exit 2 instead of a traceback."""
    from .errors import AslError

    try:
        return main(argv) or 0
    except AslError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; outputs that were being written were discarded", file=sys.stderr)
        return 130

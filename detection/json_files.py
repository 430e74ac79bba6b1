"""Reading the JSON files users write (thresholds, notifications): one-line errors naming the file, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .rules import ConfigError


def read_json_file(path: str | Path, what: str) -> Any:
    """Parse the file; ``what`` names it in errors ("thresholds file")."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: {what} not found") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read {what} ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None

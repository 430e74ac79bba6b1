"""Writes docs/openapi.json: the API document a server with the built-in thresholds and a token serves.

A copy in the repository lets people read the API and generate clients without starting a monitor; a test
keeps it equal to what the code serves. Regenerate it after changing the API:

    python -m api.openapi_file            # writes docs/openapi.json
    python -m api.openapi_file --check    # exit 1 when the copy is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from detection import __version__, load_thresholds

from .openapi import openapi_document

PUBLISHED = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def published_document(year: int | None = None) -> dict[str, Any]:
    """The document with the built-in thresholds, the default window and a token set (every write guarded)."""
    thresholds = load_thresholds(None)
    return openapi_document(__version__, thresholds.statuses, thresholds.auth_codes, token_required=True, year=year,
                            dimensions=[d.name for d in thresholds.dimensions], pairs=thresholds.dimension_pairs)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.openapi_file", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when docs/openapi.json differs")
    parser.add_argument("--out", type=Path, default=PUBLISHED)
    args = parser.parse_args(argv)
    text = render(published_document())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run python -m api.openapi_file", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

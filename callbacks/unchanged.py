"""Leave out of a refresh's answer every part the browser already shows, so a quiet refresh is a few hundred bytes.

The page keeps a short digest of each part it last received (``ids.PART_DIGESTS``);
a part whose digest is the same is answered with ``no_update``. Safe for the charts'
Patches too: a Patch that moves no minutes (the same newest minute) only assigns
values, so sending it twice or not at all leaves the same figure. A reload of the
page starts with no digests, so everything is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from dash import no_update
from plotly.io.json import to_json_plotly


def digest(value: Any) -> str:
    return hashlib.blake2b(to_json_plotly(value).encode(), digest_size=8).hexdigest()


def leave_out_unchanged(parts: Mapping[str, Any], previous: object) -> tuple[dict[str, Any], dict[str, str] | Any]:
    """(each part, or ``no_update`` where its digest equals the one in ``previous``; the new digests, or
    ``no_update`` when none changed)."""
    seen = previous if isinstance(previous, dict) else {}
    digests = {name: digest(value) for name, value in parts.items()}
    out = {name: (no_update if seen.get(name) == digests[name] else value) for name, value in parts.items()}
    return out, (no_update if digests == seen else digests)

"""Leave out of a refresh's answer every part the browser already shows, so a quiet refresh is a few hundred bytes.

The page keeps a short digest of each part it last received (``ids.PART_DIGESTS``);
a part whose digest is the same is answered with ``no_update``. Safe for the charts'
Patches too: a Patch that moves no minutes (the same newest minute) only assigns
values, so sending it twice or not at all leaves the same figure. A reload of the
page starts with no digests, so everything is sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from dash import no_update

from components import ids


def _plain(value: Any) -> Any:
    """What the standard encoder cannot write itself: components and Patches, numpy arrays and numbers."""
    if hasattr(value, "to_plotly_json"):
        return value.to_plotly_json()
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


def digest(value: Any) -> str:
    """A short fingerprint of a part. The standard library's encoder, not Plotly's: this runs on every part of
    every refresh, and Plotly's (which walks every element in Python) cost 40% of a quiet refresh."""
    text = json.dumps(value, default=_plain, separators=(",", ":"), allow_nan=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def leave_out_unchanged(parts: Mapping[str, Any], previous: object,
                        keys: Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[str, str] | Any]:
    """(each part, or ``no_update`` where its digest equals the one in ``previous``; the new digests, or
    ``no_update`` when none changed).

    A part that is already ``no_update`` (the caller saw it unchanged without building it) keeps its old
    digest; ``keys`` are further digests to remember, such as what a part was built from.
    """
    seen = previous if isinstance(previous, dict) else {}
    digests = {name: (seen.get(name, "") if value is no_update else digest(value)) for name, value in parts.items()}
    digests.update(keys or {})
    out = {name: (no_update if seen.get(name) == digests[name] else value) for name, value in parts.items()}
    return out, (no_update if digests == seen else digests)


def charts_key(*inputs: Any) -> str:
    """A digest of what the charts are built from, to skip building them (most of a refresh) when it is
    the same as last time."""
    return digest(list(inputs))


def drawn_digests(detail: Any) -> dict[str, str]:
    """The digests of the opened incident's parts (``ids.detail_part``) as a click or an action drew them, and
    its id, for ``callbacks.following`` to compare later ticks with: the children of ``info`` and ``record``, and
    the ``data-shape`` of ``forms`` (which actions apply)."""
    out: dict[str, str] = {}
    stack = [detail]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
            continue
        ident = getattr(node, "id", None)
        if isinstance(ident, dict) and ident.get("type") == ids.DETAIL_PART_TYPE:
            part = ident["part"]
            out[part] = digest(getattr(node, "data-shape", None) if part == "forms" else node.children)
            out["incident"] = ident["incident"]
        children = getattr(node, "children", None)
        if children is not None and not isinstance(children, str):
            stack.append(children)
    return out

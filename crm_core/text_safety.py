"""What text and JSON the CRM accepts for storage.

Everything stored must read back and serialise on every path that shows it (the 360 view,
record pages, subject exports, CSV): a lone UTF-16 surrogate cannot be encoded as UTF-8, a
NUL cannot live in PostgreSQL text, and JSON nested hundreds deep overflows serialisers. Such
values are refused at the door, so a single poisoned row can never make a record unreadable.
Errors name the problem, never the value.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_INPUT_DEPTH = 32
MAX_STORED_JSON_DEPTH = 8
MAX_STORED_JSON_BYTES = 16_384


def is_storable_text(text: str) -> bool:
    """True when `text` holds no NUL and encodes as UTF-8 (no lone surrogates)."""
    return text_problem(text) is None


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored (a NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (it holds a lone surrogate)"
    return None


def input_problem(value: Any, *, max_depth: int = MAX_INPUT_DEPTH) -> str | None:
    """Why a decoded JSON value (or form value) cannot be taken, naming where in it, or None.

    Walks the value without recursion, so its own depth cannot overflow the stack.
    """
    pending: list[tuple[Any, int, str]] = [(value, 1, "")]
    while pending:
        item, depth, path = pending.pop()
        where = f"{path[:120]} " if path else ""
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return where + problem
        elif isinstance(item, dict | list | tuple):
            if depth > max_depth:
                return f"{where}is nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and (problem := text_problem(key)):
                        return f"{where}has a key that {problem}"
                    pending.append((child, depth + 1, _joined(path, key)))
            else:
                pending.extend((child, depth + 1, f"{path}[{index}]") for index, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            return f"{where}holds a number that is not finite (NaN or infinity)"
    return None


def _joined(path: str, key: object) -> str:
    name = str(key)
    name = name if len(name) <= 40 else name[:40] + "..."
    return f"{path}.{name}" if path else name


def stored_json(value: dict[str, Any]) -> dict[str, Any]:
    """A free-form JSON object to store (activity properties and the like), within bounds that
    every reader can serialise; raises ValueError naming the bound it breaks."""
    problem = input_problem(value, max_depth=MAX_STORED_JSON_DEPTH)
    if problem:
        raise ValueError(problem)
    size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
    if size > MAX_STORED_JSON_BYTES:
        raise ValueError(f"is {size:,} bytes as JSON; at most {MAX_STORED_JSON_BYTES:,} are stored")
    return value

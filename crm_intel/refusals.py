"""The error of the pure `models` package that means "cannot do this now" for a person.

`models` imports nothing of ours, so its errors cannot derive from `CrmError`; the command
line and the worker's model handlers both treat this one as they treat the root.
"""

from __future__ import annotations


def model_refusals() -> tuple[type[Exception], ...]:
    from models.graduated import InsufficientDataError

    return (InsufficientDataError,)

"""What loading a data set may refuse with."""

from __future__ import annotations

from crm_core.errors import CrmError


class DatasetMissingError(CrmError, FileNotFoundError):
    """The data set's file is not in the folder given; names the file expected."""

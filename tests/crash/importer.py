"""A contact import as its own process (the service the CLI and the API call), one transaction.

python -m tests.crash.importer DATABASE_URL FILE
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.imports.contacts import import_contacts
from crm_core.imports.reading import read_table
from crm_core.opening import open_crm
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork
from tests.crash.barrier import wait_for_go


def main(url: str, path: Path) -> None:
    engine = open_crm(CoreSettings(database_url=url), migrate=False)
    wait_for_go()
    time.sleep(2)  # land in the middle of the API edits, not before the first
    with UnitOfWork(make_session_factory(engine)) as uow:
        report = import_contacts(
            uow, Principal.system(Role.ADMIN, "import"), read_table(path), source=path.name, now=utc_now()
        )
        uow.commit()
    print(f"created {report.inserted}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))

"""Every error raised for a person derives from one root, CrmError, so the command line, the job
runner and the API edge each handle it once; only the pure `models` package (which imports
nothing of ours) and the web session's redirects stand outside it, named here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from crm_core.errors import CrmError

PACKAGES = ("crm_core", "features", "training", "serving", "crm_intel")
# Flow control at the HTTP edge (a redirect to sign in, a refused form, a body cut off at its
# size limit), answered as responses, never raised to a person as text.
OUTSIDE_THE_ROOT = {
    "crm_core.web.session.LoginRequiredError",
    "crm_core.web.session.CsrfError",
    "crm_core.api.body_limit._BodyTooLarge",
}
# The module BentoML serves reads the settings and the catalogue on import and defines no error.
NOT_WALKED = ("serving.served",)


def _our_exceptions() -> dict[str, type[BaseException]]:
    found = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            skipped = ".migrations." in module.name or ".feature_repo" in module.name or module.name in NOT_WALKED
            if skipped or module.name.endswith("__main__"):
                continue
            loaded = importlib.import_module(module.name)
            for name, value in vars(loaded).items():
                if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.name:
                    found[f"{module.name}.{name}"] = value
    return found


def test_every_error_we_raise_for_a_person_derives_from_the_root() -> None:
    errors = _our_exceptions()
    assert len(errors) > 25, "the walk found our packages' errors"
    outside = {name for name, error in errors.items() if not issubclass(error, CrmError)}
    assert outside == OUTSIDE_THE_ROOT

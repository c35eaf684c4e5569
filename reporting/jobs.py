"""Background-job runners of the reporting app, registered when the app is ready."""

import importlib
import importlib.util

from .imports import jobs as import_jobs  # noqa: F401

if importlib.util.find_spec("reporting.jobs_exports") is not None:
    importlib.import_module("reporting.jobs_exports")

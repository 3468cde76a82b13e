"""CSV import of products, devices, slots, planograms and sales (see SPEC's import formats)."""

from services.imports.importer import SPECS, run_import, validate_import
from services.imports.report import ImportRejected, ImportReport

__all__ = ["SPECS", "ImportRejected", "ImportReport", "run_import", "validate_import"]

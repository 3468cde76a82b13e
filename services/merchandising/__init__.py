"""The planogram feature over the pure engine: data and model cache, analysis, versions, optimisation jobs and
streams, explanations, placement feedback, fleet figures and visit sheets.

Kept empty on purpose: the optimiser's child processes import `services.merchandising.compute`, which must
load the engine only (no flask, no sqlalchemy), and importing a submodule runs this file first.
"""

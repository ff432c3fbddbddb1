"""Notebook 02: hardness-aware deep metric learning (HDML) on triplet and N-pair losses, and
why the report's run turned NaN. The method itself is ``dml_utils.hdml``.

``parameters`` (types and profiles), ``plan`` (the plan of runs and the task that carries one
out: what the run cache keys on), ``study`` (data, analysis, claims), ``figures``, ``schema`` (the
results JSON and its regression summary)."""

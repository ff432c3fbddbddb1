"""Notebook 05: batch-hard triplet loss on HPatches-style patches, and when it collapses. The
method itself is ``dml_utils.batch_hard``.

``parameters`` (types and profiles), ``plan`` (the plan of runs and the task that carries one
out: what the run cache keys on), ``study`` (data, analysis, claims), ``figures``, ``schema`` (the
results JSON and its regression summary)."""

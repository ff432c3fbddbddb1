"""Notebook 05: batch-hard triplet loss on HPatches-style patches, and when it collapses. The
method itself is ``dml_utils.batch_hard``.

``parameters`` (types and profiles), ``study`` (data, plan of runs, analysis, claims), ``figures``,
``schema`` (the results JSON and its regression summary)."""

"""Notebook 04: sampling matters in deep embedding learning (distance-weighted sampling and the
margin loss, Wu et al.).

``parameters`` (types and profiles), ``plan`` (the plan of runs and the task that carries one
out: what the run cache keys on), ``study`` (data, analysis, claims), ``figures``, ``schema`` (the
results JSON and its regression summary)."""

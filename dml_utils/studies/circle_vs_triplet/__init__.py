"""Notebook 01: circle loss vs triplet loss with a miner on imbalanced data (the report on circle
loss and the triplet margin).

``parameters`` (types and profiles), ``plan`` (the plan of runs and the task that carries one
out: what the run cache keys on), ``study`` (data, analysis, claims), ``figures``, ``schema`` (the
results JSON and its regression summary)."""

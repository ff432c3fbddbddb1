"""Notebook 03: the Yukawa loss vs the contrastive loss on MNIST and Fashion-MNIST pairs.

``parameters`` (types and profiles), ``plan`` (the plan of runs and the task that carries one
out: what the run cache keys on), ``study`` (data, analysis, claims), ``figures``, ``schema`` (the
results JSON and its regression summary)."""

"""Notebook 03: the Yukawa loss vs the contrastive loss on MNIST and Fashion-MNIST pairs.

``parameters`` (types and profiles), ``study`` (data, plan of runs, analysis, claims), ``figures``,
``schema`` (the results JSON and its regression summary)."""

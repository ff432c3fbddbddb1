"""Notebook 01: circle loss vs triplet loss with a miner on imbalanced data (the report on circle
loss and the triplet margin).

``parameters`` (types and profiles), ``study`` (data, plan of runs, analysis, claims), ``figures``,
``schema`` (the results JSON and its regression summary)."""

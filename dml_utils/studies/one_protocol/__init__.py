"""Notebook 06: every loss of the five reports under one protocol (equal tuning, equal budget).

``parameters`` (types and profiles), ``plan`` (the plans of runs, trials and finals, and the tasks
that carry one out: what the run cache keys on), ``study`` (data, tuning, analysis, claims),
``figures``, ``schema`` (the results JSON and its regression summary)."""

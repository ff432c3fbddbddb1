"""Notebook 04: sampling matters in deep embedding learning (distance-weighted sampling and the
margin loss, Wu et al.).

``parameters`` (types and profiles), ``study`` (data, plan of runs, analysis, claims), ``figures``,
``schema`` (the results JSON and its regression summary)."""

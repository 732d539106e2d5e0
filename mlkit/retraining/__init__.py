"""Lesson 06, Retraining: the loop from a drift alarm to a safely promoted model.

Modules: :mod:`stream` (the bike year replayed week by week), :mod:`policies` (when to
retrain, and the simulation), :mod:`gate` (challenger vs champion), :mod:`pipeline` (one
retrain through DVC, Great Expectations, MLflow and the registry), :mod:`cicd` (dvc.yaml
and a CI workflow) and :mod:`widget` (the timeline explorer).
"""

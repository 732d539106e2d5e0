"""Lesson 06, Retraining: the loop from a drift alarm to a safely promoted model.

Modules: :mod:`replay` (the bike year replayed week by week), :mod:`policies` (when to
retrain, and the simulation), :mod:`gate` (challenger vs champion), :mod:`pipeline` (one
retrain through DVC, Great Expectations, MLflow and the registry), :mod:`canary` (the
challenger served by lesson 04's server behind its router before it is promoted), :mod:`cicd`
(dvc.yaml and a CI workflow), :mod:`steps` (the pipeline's command line, which those files
run) and :mod:`widget` (the timeline explorer). The model itself is the course's one bike
model, :mod:`mlkit.training.bike`.
"""

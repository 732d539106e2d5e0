"""Lesson 04, deployment: a model server, a router for rollouts, a load generator.

* :mod:`~mlkit.deployment.server`: the FastAPI model server (run by uvicorn as a process), for
  any registered model it has an adapter for (a package: app, adapters, settings, metrics,
  inference log, cache, micro-batcher);
* :mod:`~mlkit.deployment.router`: an aiohttp reverse proxy for blue-green, canary and shadow;
* :mod:`~mlkit.deployment.loadgen`: an aiohttp load generator with per-version percentiles;
* :mod:`~mlkit.deployment.rollout`: the decisions themselves (sticky split, SLO gate, p99);
* :mod:`~mlkit.deployment.launch`: start the servers and the router with the course launcher;
* :mod:`~mlkit.deployment.speed`: int8 quantization measured;
* :mod:`~mlkit.deployment.k8s`: a Dockerfile and Kubernetes manifests from the model's metadata;
* :mod:`~mlkit.deployment.widget`: the rollout panel.

Nothing heavy is imported here.
"""

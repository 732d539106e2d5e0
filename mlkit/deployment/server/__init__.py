"""Lesson 04's model server: FastAPI, run by uvicorn as its own process, for any registered model
it has an adapter for (the spam classifier of lesson 02, the bike-demand model of lesson 06).

One module per concept:

* :mod:`~mlkit.deployment.server.app`: the endpoints (``create_app``, the factory uvicorn runs);
* :mod:`~mlkit.deployment.server.state`: ``Server``, what a process holds, and the one request
  path both prediction endpoints share;
* :mod:`~mlkit.deployment.server.adapters`: the model interface, one adapter per kind of model
  (schemas, loading, featurize -> predict, answers, log fields, the bad-output fault);
* :mod:`~mlkit.deployment.server.settings`: settings from the environment (pydantic-settings),
  the limits (defined once there), and the run-time settings of ``POST /admin/settings`` (which
  needs the server's ``MLKIT_ADMIN_TOKEN``: :func:`mlkit.deployment.launch.admin` sends it);
* :mod:`~mlkit.deployment.server.registry`: what the MLflow registry says about the model served;
* :mod:`~mlkit.deployment.server.metrics`: the Prometheus metrics lesson 05 scrapes;
* :mod:`~mlkit.deployment.server.inference_log`: one JSON line per scored item;
* :mod:`~mlkit.deployment.server.cache`: the prediction cache (an LRU);
* :mod:`~mlkit.deployment.server.batcher`: server-side micro-batching;
* :mod:`~mlkit.deployment.server.errors`: what the server refuses and how: 415 for a body that
  is not JSON, 413 over the limit the schema implies, 400/401/404/405/422 in one shape (``message``
  says what to send), every refusal counted.

Start one with :func:`mlkit.deployment.launch.start_server`. Nothing is imported here until
``LOG_FIELDS`` is asked for: the fields of the spam model's inference log, in order, the
format lesson 05 reads (:func:`mlkit.deployment.server.inference_log.fields` of the spam adapter).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "LOG_FIELDS":
        from mlkit.deployment.server.adapters import SpamAdapter
        from mlkit.deployment.server.inference_log import fields

        return fields(SpamAdapter)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

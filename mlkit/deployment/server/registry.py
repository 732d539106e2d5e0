"""What the model server reads from the MLflow registry about the model it serves (lesson 04).

The model itself is loaded by its adapter (:mod:`mlkit.deployment.server.adapters`), each
through the training stage's own loader; here is the registry's record of it: name, version,
alias, run and data/code versions, shown by ``/metadata`` and the ``mlkit_model_info`` metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def metadata(uri: str) -> dict[str, Any]:
    """Name, version, run id, alias and data/code versions of the registered model at ``uri``
    (``models:/name@alias`` or ``models:/name/3``; anything else is "local")."""
    import mlflow

    if not uri.startswith("models:/"):
        return {"uri": uri, "name": Path(uri).name, "version": "local", "run_id": "", "data_version": ""}
    client = mlflow.MlflowClient()
    ref = uri[len("models:/"):]
    if "@" in ref:
        name, alias = ref.split("@", 1)
        mv = client.get_model_version_by_alias(name, alias)
    else:
        name, version = ref.rsplit("/", 1)
        alias, mv = None, client.get_model_version(name, version)
    tags = dict(mv.tags or {})
    return {"uri": uri, "name": name, "version": str(mv.version), "alias": alias, "run_id": mv.run_id or "",
            "data_version": tags.get("data_version", ""), "code_version": tags.get("code_version", ""),
            "source": mv.source}

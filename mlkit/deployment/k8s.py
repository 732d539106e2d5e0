"""Packaging for a cluster (lesson 04): a Dockerfile and Kubernetes manifests from the model's metadata.

:func:`write` puts into a folder of the workspace:

* ``Dockerfile``: the course's model server (:mod:`mlkit.deployment.server`) in an image;
* ``stable.yaml`` and ``canary.yaml``: one Deployment each (replicas, resource requests,
  readiness probe on ``/health/ready``, liveness probe on ``/health/live``);
* ``service.yaml``: a Service over both (traffic splits by replica count) and one per track;
* ``ingress.yaml``: an NGINX Ingress for stable and a canary Ingress with a weight annotation
  (the cluster's version of the router's weighted canary).

Nothing here talks to a cluster: the lesson writes the files and a test checks their structure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlkit.deployment.launch import APP
from mlkit.training.tracking import SPAM_MODEL

PORT = 8000
LABEL_KEYS = ("version", "run_id", "data_version")
ADMIN_SECRET = "mlkit-admin"  # kubectl create secret generic mlkit-admin --from-literal=token=...


def _labels(meta: dict[str, Any], track: str) -> dict[str, str]:
    labels = {"app": SPAM_MODEL, "track": track}
    labels.update({f"mlkit/{k.replace('_', '-')}": str(meta.get(k, ""))[:63] for k in LABEL_KEYS})
    return labels


def deployment(meta: dict[str, Any], track: str, replicas: int, image: str) -> dict[str, Any]:
    """A Deployment serving the registered model of ``meta`` (the server's ``/metadata``)."""
    name = f"{SPAM_MODEL}-{track}"
    labels = _labels(meta, track)
    probe = {"httpGet": {"path": "/health/ready", "port": PORT}, "initialDelaySeconds": 5, "periodSeconds": 5,
             "failureThreshold": 3}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": SPAM_MODEL, "track": track}},
            "template": {
                "metadata": {"labels": dict(labels), "annotations": {"prometheus.io/scrape": "true",
                                                               "prometheus.io/port": str(PORT),
                                                               "prometheus.io/path": "/metrics"}},
                "spec": {"containers": [{
                    "name": "server", "image": image, "ports": [{"containerPort": PORT, "name": "http"}],
                    "env": [{"name": "MLKIT_MODEL_KIND", "value": meta.get("kind", "spam")},
                            {"name": "MLKIT_MODEL_URI", "value": f"models:/{meta.get('name', SPAM_MODEL)}/"
                                                                 f"{meta.get('version', '')}"},
                            {"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow.mlops.svc:5000"},
                            # the admin API's token, from a Secret (none: the admin API stays shut)
                            {"name": "MLKIT_ADMIN_TOKEN", "valueFrom": {"secretKeyRef": {
                                "name": ADMIN_SECRET, "key": "token", "optional": True}}}],
                    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                                  "limits": {"cpu": "1", "memory": "1Gi"}},
                    "readinessProbe": probe,
                    "livenessProbe": {"httpGet": {"path": "/health/live", "port": PORT}, "initialDelaySeconds": 10,
                                      "periodSeconds": 10, "failureThreshold": 3},
                }]},
            },
        },
    }


def service(name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": PORT}]}}


def ingress(name: str, backend: str, weight: int | None = None) -> dict[str, Any]:
    annotations = {"nginx.ingress.kubernetes.io/canary": "true",
                   "nginx.ingress.kubernetes.io/canary-weight": str(weight)} if weight is not None else {}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "spam.example.com", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": backend, "port": {"number": 80}}}}]}}]}}


def dockerfile(meta: dict[str, Any]) -> str:
    """The model server's image. It binds 0.0.0.0 inside the container: the pod's network is private."""
    return f"""# The course's model server for {meta.get('name')} version {meta.get('version')} (run {meta.get('run_id')})
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY mlkit/ mlkit/
ENV MLKIT_MODEL_KIND={meta.get('kind', 'spam')} MLKIT_MODEL_URI=models:/{meta.get('name')}/{meta.get('version')} \\
    MLKIT_THREADS=1 OMP_NUM_THREADS=1
EXPOSE {PORT}
USER 1000
CMD ["uvicorn", "{APP}", "--factory", "--host", "0.0.0.0", "--port", "{PORT}", "--no-access-log"]
"""


def write(folder: str | Path, stable: dict[str, Any], canary: dict[str, Any], *, canary_percent: int = 10,
          replicas: int = 3, image: str = f"registry.example.com/mlkit/{SPAM_MODEL}") -> list[Path]:
    """Write the Dockerfile and the manifests for ``stable`` and ``canary`` (each a server's
    ``/metadata``) into ``folder``; return the paths written."""
    import yaml

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    canary_replicas = max(1, round(replicas * canary_percent / (100 - canary_percent)))
    docs = {
        "stable.yaml": [deployment(stable, "stable", replicas, f"{image}:{stable.get('version')}")],
        "canary.yaml": [deployment(canary, "canary", canary_replicas, f"{image}:{canary.get('version')}")],
        "service.yaml": [service(SPAM_MODEL, {"app": SPAM_MODEL}),
                         service(f"{SPAM_MODEL}-stable", {"app": SPAM_MODEL, "track": "stable"}),
                         service(f"{SPAM_MODEL}-canary", {"app": SPAM_MODEL, "track": "canary"})],
        "ingress.yaml": [ingress(SPAM_MODEL, f"{SPAM_MODEL}-stable"),
                         ingress(f"{SPAM_MODEL}-canary", f"{SPAM_MODEL}-canary", weight=canary_percent)],
    }
    paths = []
    for name, manifests in docs.items():
        path = folder / name
        path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
        paths.append(path)
    path = folder / "Dockerfile"
    path.write_text(dockerfile(stable))
    paths.append(path)
    return paths

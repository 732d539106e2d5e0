"""mlkit.deployment.k8s: the Dockerfile and manifests have the structure a cluster needs."""

from __future__ import annotations

import yaml

from mlkit.deployment import k8s, launch
from mlkit.training.tracking import SPAM_MODEL

STABLE = {"name": SPAM_MODEL, "version": "3", "run_id": "abc123", "data_version": "md5x", "kind": "spam"}
CANARY = {"name": SPAM_MODEL, "version": "4", "run_id": "def456", "data_version": "md5x", "kind": "spam"}


def test_manifests(tmp_path):
    paths = k8s.write(tmp_path, STABLE, CANARY, canary_percent=10, replicas=3)
    assert {p.name for p in paths} == {"stable.yaml", "canary.yaml", "service.yaml", "ingress.yaml", "Dockerfile"}
    docs = {p.name: list(yaml.safe_load_all(p.read_text())) for p in paths if p.suffix == ".yaml"}
    (stable,), (canary,) = docs["stable.yaml"], docs["canary.yaml"]
    for dep, version, replicas in ((stable, "3", 3), (canary, "4", 1)):
        assert dep["kind"] == "Deployment" and dep["apiVersion"] == "apps/v1"
        spec = dep["spec"]
        assert spec["replicas"] == replicas
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        assert labels["mlkit/version"] == version
        (container,) = spec["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": k8s.PORT}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": k8s.PORT}
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
        assert env["MLKIT_MODEL_URI"] == f"models:/{SPAM_MODEL}/{version}" and env["MLKIT_MODEL_KIND"] == "spam"
        assert env["MLKIT_ADMIN_TOKEN"]["secretKeyRef"]["name"] == k8s.ADMIN_SECRET  # never a value in the manifest
    services = {s["metadata"]["name"]: s for s in docs["service.yaml"]}
    assert services[SPAM_MODEL]["spec"]["selector"] == {"app": SPAM_MODEL}  # both tracks
    assert services[f"{SPAM_MODEL}-canary"]["spec"]["selector"]["track"] == "canary"
    main, canary_ing = docs["ingress.yaml"]
    assert "canary" not in str(main["metadata"]["annotations"])
    assert canary_ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "10"
    docker = (tmp_path / "Dockerfile").read_text()
    assert "FROM python:3.11" in docker and f'"{launch.APP}", "--factory"' in docker and "version 3" in docker

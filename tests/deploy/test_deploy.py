"""deploy/: the Kubernetes manifests validate (offline schemas, strict) and hold together, the
Compose file validates against the Compose Specification's schema, and every SATREPS_*
variable they set is a real setting. No cluster and no Docker engine needed."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from server.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SETTINGS = {f"SATREPS_{name.upper()}" for name in Settings.model_fields}
COMPOSE_SCHEMA = Path(__file__).with_name("compose-spec.json")


# --------------------------------------------------------------------------------------------
# Kubernetes


def render_kustomization(directory: Path) -> list[dict[str, Any]]:
    """What `kubectl kustomize` gives for our kustomization, in Python: its resources, with
    the namespace, labels and image overrides applied (the features the file uses)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - {
        "apiVersion",
        "kind",
        "namespace",
        "labels",
        "resources",
        "images",
    }
    assert not unknown, f"render_kustomization does not know {unknown}"
    images = {i["name"]: i for i in kustomization.get("images", [])}
    labels: dict[str, str] = {}
    for entry in kustomization.get("labels", []):
        labels.update(entry["pairs"])
    rendered = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((directory / name).read_text()):
            if doc is None:
                continue
            if doc["kind"] != "Namespace" and "namespace" in kustomization:
                doc["metadata"]["namespace"] = kustomization["namespace"]
            doc["metadata"].setdefault("labels", {}).update(labels)
            for container in containers(doc):
                if container["image"] in images:
                    image = images[container["image"]]
                    container["image"] = f"{image['newName']}:{image['newTag']}"
            rendered.append(doc)
    return rendered


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] in ("Deployment", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(doc)
    return list(spec["containers"]) if spec else []


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    docs = render_kustomization(K8S)
    by_key = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(by_key) == len(docs), "two resources share a kind and name"
    return by_key


def test_the_manifests_validate_strictly_against_the_kubernetes_schemas(manifests):
    version = kubernetes_validate.latest_version()
    for (kind, name), doc in manifests.items():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{kind}/{name}: {error.message} at {list(error.path)}")


def test_the_validator_rejects_a_broken_manifest(manifests):
    """The check above can fail: an unknown field and a wrong type are reported."""
    version = kubernetes_validate.latest_version()
    broken = copy.deepcopy(manifests[("Deployment", "satreps-api")])
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)
    broken = copy.deepcopy(manifests[("Deployment", "satreps-api")])
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
def test_kubectl_kustomize_renders_the_same_resources(manifests):
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], check=True, capture_output=True, text=True
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    assert {(d["kind"], d["metadata"]["name"]) for d in docs} == set(manifests)
    for doc in docs:
        assert doc == manifests[(doc["kind"], doc["metadata"]["name"])], doc["kind"]


def test_the_api_is_a_probed_scaled_protected_deployment(manifests):
    api = manifests[("Deployment", "satreps-api")]
    pods = api["spec"]["template"]
    labels = pods["metadata"]["labels"]
    (container,) = pods["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["spec"]["replicas"] >= 2
    assert api["spec"]["selector"]["matchLabels"].items() <= labels.items()

    service = manifests[("Service", "satreps-api")]
    assert service["spec"]["selector"].items() <= labels.items()
    ports = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports

    hpa = manifests[("HorizontalPodAutoscaler", "satreps-api")]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "satreps-api",
    }
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = manifests[("PodDisruptionBudget", "satreps-api")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]

    ingress = manifests[("Ingress", "satreps-api")]
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert {p["path"] for p in paths} == {"/graphql", "/uploads"}  # not /metrics
    assert {p["backend"]["service"]["name"] for p in paths} == {"satreps-api"}


def test_grace_periods_cover_the_drain_and_the_hand_back(manifests):
    config = manifests[("ConfigMap", "satreps-config")]["data"]
    api = pod_spec(manifests[("Deployment", "satreps-api")])
    worker = pod_spec(manifests[("Deployment", "satreps-worker")])
    assert api is not None and worker is not None
    pre_stop = api["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert api["terminationGracePeriodSeconds"] > pre_stop + int(
        config["SATREPS_SHUTDOWN_GRACE_SECONDS"]
    )
    assert worker["terminationGracePeriodSeconds"] > int(
        config["SATREPS_WORKER_SHUTDOWN_GRACE_SECONDS"]
    )


def test_every_pod_runs_the_one_image_unprivileged_with_known_settings(manifests):
    config_maps = {name for kind, name in manifests if kind == "ConfigMap"}
    secrets = {name for kind, name in manifests if kind == "Secret"}
    commands = set()
    for (_kind, name), doc in manifests.items():
        spec = pod_spec(doc)
        if spec is None:
            continue
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        for container in spec["containers"]:
            assert container["image"] == "registry.example.org/satreps/satreps-hub:0.1.0"
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            commands.add(container["args"][0])
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps, name
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, name
            for variable in container.get("env", []):
                assert variable["name"] in SETTINGS, (name, variable["name"])
    assert commands == {"serve", "worker", "migrate"}
    for kind in ("ConfigMap", "Secret"):
        for (k, name), doc in manifests.items():
            if k == kind:
                keys = set(doc.get("data", {})) | set(doc.get("stringData", {}))
                assert keys <= SETTINGS, f"{kind}/{name}: not settings: {keys - SETTINGS}"


# --------------------------------------------------------------------------------------------
# Compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def compose_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    assert schema["$schema"].rstrip("#").endswith("draft-07/schema")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_compose_file_validates_against_the_compose_specification(compose, compose_validator):
    errors = sorted(compose_validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_compose_schema_rejects_a_broken_file(compose, compose_validator):
    broken = copy.deepcopy(compose)
    broken["services"]["api"]["depends_on"]["migrate"]["condition"] = "service_done"
    assert not compose_validator.is_valid(broken)
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["replicas"] = 2  # belongs under deploy:
    assert not compose_validator.is_valid(broken)


def test_the_compose_stack_has_its_parts_in_order(compose):
    services = compose["services"]
    assert {"api", "worker", "postgres", "redis", "minio", "minio-init", "migrate"} <= set(services)
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    for name in ("api", "worker"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["minio-init"]["condition"] == "service_completed_successfully"
        assert services[name]["command"][0] == {"api": "serve", "worker": "worker"}[name]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in services.items():
        if service.get("restart") != "no":  # long-running: health-checked
            assert "test" in service.get("healthcheck", {}), name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    script = services["minio-init"]["command"][0]
    assert "--with-lock" in script and "satreps-raw" in script
    assert "retention set --default GOVERNANCE" in script


def test_compose_sets_only_real_settings_and_waits_for_the_drain(compose):
    defaults = Settings()
    for name, service in compose["services"].items():
        environment = service.get("environment") or {}
        for key in environment:
            if key.startswith("SATREPS_"):
                assert key in SETTINGS, (name, key)
    grace = {
        "api": defaults.shutdown_grace_seconds,
        "worker": defaults.worker_shutdown_grace_seconds,
    }
    for name, seconds in grace.items():
        stop = compose["services"][name]["stop_grace_period"]
        assert int(re.fullmatch(r"(\d+)s", stop).group(1)) > seconds, name


def test_compose_and_k8s_scan_uploads_with_clamd(compose, manifests):
    """Issue 22: the deployments turn scanning on and name a clamd that exists."""
    services = compose["services"]
    assert "clamav" in services and "clamdcheck.sh" in services["clamav"]["healthcheck"]["test"]
    for name in ("api", "worker"):
        env = services[name]["environment"]
        assert env["SATREPS_SCAN_UPLOADS"] == "true", name
        assert env["SATREPS_CLAMD_ADDRESS"].split(":")[0] in services, name
    config = manifests[("ConfigMap", "satreps-config")]["data"]
    assert config["SATREPS_SCAN_UPLOADS"] == "true" and config["SATREPS_CLAMD_ADDRESS"]


# --------------------------------------------------------------------------------------------
# Dockerfile


def test_the_image_is_multi_stage_and_runs_unprivileged():
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?", text, re.MULTILINE)
    assert len(stages) >= 2
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert re.search(r'^ENTRYPOINT \["satreps"\]', text, re.MULTILINE)
    # the last stage copies the installed environment, not the build tools
    last = text[text.rindex("\nFROM") :]
    assert "COPY --from=build" in last and "pip install" not in last

"""The Helm chart: lint, strict schema validation for Kubernetes 1.30, and the properties the
deployment relies on (hardening, probes, wiring of env, ingress, KEDA triggers, secrets)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .routes import ROUTES

helm = pytest.importorskip("helm_python")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "orders-saga"
RELEASE = "shop"
NAMESPACE = "food"

Manifest = dict[str, Any]

# Value sets every structural test runs against.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "pi4": yaml.safe_load((CHART / "values-pi4.yaml").read_text()),
    "ha": yaml.safe_load((CHART / "values-ha.yaml").read_text()),
    "ha-required-spread": {
        **yaml.safe_load((CHART / "values-ha.yaml").read_text()),
        "scheduling": {"spreadAcrossNodes": "required", "preStopDelaySeconds": 0},
    },
    "external": {
        "mongodb": {"enabled": False, "externalUrl": "mongodb://u:p@db.example:27017/orders_saga"},
        "redis": {"enabled": False, "externalUrl": "redis://:pw@redis.example:6379/0"},
        "autoscaling": {"keda": {"enabled": True, "redisAddress": "redis.example:6379"}},
    },
    "keda": {"autoscaling": {"keda": {"enabled": True}}},
    "hpa": {"autoscaling": {"hpa": {"enabled": True}}},
    "replicaset3": {"mongodb": {"replicas": 3}},
    "no-frontend": {"frontend": {"enabled": False}},
    "minimal": {
        "actors": {"enabled": False},
        "refillStock": {"enabled": False},
        "networkPolicy": {"enabled": False},
        "podDisruptionBudget": {"enabled": False},
        "ingress": {"host": "shop.example", "tls": {"enabled": True, "secretName": "shop-tls"}},
        "secrets": {"existingSecret": "my-secrets"},
    },
}


def render(values: dict[str, Any] | None = None) -> list[Manifest]:

    chart = helm.Chart.load(CHART)
    rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    manifests: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return manifests


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(manifest: Manifest) -> dict[str, Any] | None:
    kind = manifest["kind"]
    if kind in {"Deployment", "StatefulSet", "Job"}:
        spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
        return spec
    if kind == "CronJob":
        spec = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    return None


def pod_labels(manifest: Manifest) -> dict[str, str]:
    if manifest["kind"] == "CronJob":
        labels: dict[str, str] = manifest["spec"]["jobTemplate"]["spec"]["template"]["metadata"][
            "labels"
        ]
        return labels
    labels = manifest["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(manifest: Manifest) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every container of a workload, with whether it is an init container."""
    spec = pod_spec(manifest)
    if spec is None:
        return
    for container in spec.get("initContainers", []):
        yield container, True
    for container in spec["containers"]:
        yield container, False


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


KUBERNETES_VERSION = "1.30.0"
FULLNAME = f"{RELEASE}-orders-saga"
APP_MODULES = {
    "orders": "orders.app",
    "delivery": "delivery.app",
    "notifications": "notifications.app",
    "actors": "simulator.actors.app",
}
CRD_GROUPS = ("keda.sh/",)


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Manifest]]:
    return {name: render(values) for name, values in VALUE_SETS.items()}


def value_sets() -> list[str]:
    return list(VALUE_SETS)


def secret_data(manifests: list[Manifest]) -> dict[str, str]:
    secret = named(manifests, "Secret", f"{FULLNAME}-secrets")
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


# -- lint and schema ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", value_sets())
def test_chart_lints_clean_in_strict_mode(name: str) -> None:
    report = helm.lint(CHART, VALUE_SETS[name], strict=True, kube_version=f"v{KUBERNETES_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == []
    assert problems == []


@pytest.mark.parametrize("name", value_sets())
def test_every_manifest_is_valid_kubernetes_1_30(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    checked = 0
    for manifest in rendered[name]:
        if manifest["apiVersion"].startswith(CRD_GROUPS):
            continue  # no schema for CRDs; KEDA objects are checked in their own test
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize(
    "values",
    [
        {"image": {"tag": "latest"}},
        {"mongodb": {"image": {"repository": "mongo", "tag": "latest"}}},
        {"mongodb": {"replicas": 2}},
        {"orders": {"replicas": 1, "image": "orders", "resources": {}, "surprise": True}},
        {"unknownTopLevel": 1},
        {"frontend": {"enabled": True, "surprise": True}},
        {"frontend": {"image": ""}},
        {"frontend": {"replicas": -1}},
        {"frontend": {"enabled": "yes"}},
        {"mongodb": {"enabled": False}},
        {"secrets": {"operatorApiKey": "too-short"}},
        {"orders": {"env": {"REDIS_URL": "redis://elsewhere"}}},
        {"podSecurityContext": {"runAsNonRoot": False, "runAsUser": 0}},
        {"podSecurityContext": {"runAsNonRoot": True, "runAsUser": 10001, "privileged": True}},
        {"scheduling": {"spreadAcrossNodes": "always", "preStopDelaySeconds": 3}},
        {"scheduling": {"spreadAcrossNodes": "preferred", "preStopDelaySeconds": 60}},
    ],
)
def test_values_schema_rejects_bad_values(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmError):
        render(values)


def test_hpa_and_keda_together_are_refused() -> None:
    with pytest.raises(helm.HelmError, match="cannot both be true"):
        render({"autoscaling": {"hpa": {"enabled": True}, "keda": {"enabled": True}}})


# -- hardening ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", value_sets())
def test_every_container_is_hardened_and_bounded(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    seen = 0
    for manifest in rendered[name]:
        spec = pod_spec(manifest)
        if spec is None:
            continue
        pod_security = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, manifest["metadata"]["name"]
        for container, _ in containers(manifest):
            seen += 1
            where = f"{manifest['kind']}/{manifest['metadata']['name']}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, where
            user = security.get("runAsUser", pod_security.get("runAsUser"))
            assert isinstance(user, int) and user > 0, where
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}, where
    assert seen >= 5


@pytest.mark.parametrize("name", value_sets())
def test_long_running_containers_have_all_three_probes(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    workloads = of_kind(rendered[name], "Deployment") + of_kind(rendered[name], "StatefulSet")
    assert workloads
    for manifest in workloads:
        for container, is_init in containers(manifest):
            if is_init:
                continue
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in container, f"{manifest['metadata']['name']} lacks {probe}"


@pytest.mark.parametrize("name", value_sets())
def test_app_probes_use_health_and_readiness_endpoints(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    for manifest in app_deployments(rendered[name]).values():
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("name", value_sets())
def test_images_are_pinned(name: str, rendered: dict[str, list[Manifest]]) -> None:
    images = [c["image"] for m in rendered[name] for c, _ in containers(m)]
    assert images
    for image in images:
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{image} has no tag"
        assert tag not in {"", "latest"}, image


def test_mongodb_image_follows_the_pi4_values(rendered: dict[str, list[Manifest]]) -> None:
    def mongo_image(manifests: list[Manifest]) -> str:
        sts = named(manifests, "StatefulSet", f"{FULLNAME}-mongodb")
        image: str = sts["spec"]["template"]["spec"]["containers"][0]["image"]
        return image

    assert mongo_image(rendered["default"]).startswith("mongo:7.0.")
    assert mongo_image(rendered["pi4"]) == "mongo:4.4.18"


# -- what the processes run and read -----------------------------------------------------------


def component_of(manifest: Manifest) -> str:
    name: str = manifest["metadata"]["labels"]["app.kubernetes.io/component"]
    return name


def app_deployments(manifests: list[Manifest]) -> dict[str, Manifest]:
    """The Python services' Deployments by component (not the browser app's)."""
    deployments = of_kind(manifests, "Deployment")
    return {component_of(m): m for m in deployments if component_of(m) != "frontend"}


@pytest.mark.parametrize("name", value_sets())
def test_each_deployment_runs_its_service_factory(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    deployments = app_deployments(rendered[name])
    expected = set(APP_MODULES) - ({"actors"} if name == "minimal" else set())
    assert set(deployments) == expected
    for component, manifest in deployments.items():
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        assert container["command"][:3] == [
            "uvicorn",
            "--factory",
            f"{APP_MODULES[component]}:create_app",
        ]
        args = container["command"]
        assert args[args.index("--port") + 1] == "8000"
        assert args[args.index("--host") + 1] == "0.0.0.0"
        assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


def test_factories_named_by_the_chart_exist() -> None:
    import importlib

    for module in APP_MODULES.values():
        assert callable(importlib.import_module(module).create_app), module


def known_env_names(component: str) -> set[str]:
    import importlib

    from saga_contracts.secrets import Secrets
    from sagakit.settings import ConnectionSettings

    settings_class = {
        "orders": "orders.settings:OrdersSettings",
        "delivery": "delivery.settings:DeliverySettings",
        "notifications": "notifications.settings:NotificationsSettings",
        "actors": "simulator.actors.settings:ActorSettings",
        "refill-stock": None,
    }[component]
    fields = set(ConnectionSettings.model_fields) | set(Secrets.model_fields)
    if settings_class:
        module, _, cls = settings_class.partition(":")
        fields |= set(getattr(importlib.import_module(module), cls).model_fields)
    # POD_NAME is read by sagakit.settings.default_consumer_name; REFILL_RUN_ID by the CLI.
    return {field.upper() for field in fields} | {"POD_NAME", "REFILL_RUN_ID"}


@pytest.mark.parametrize("name", value_sets())
def test_env_names_are_ones_the_processes_read(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    from saga_contracts.secrets import Secrets
    from sagakit.settings import ConnectionSettings

    required = {f.upper() for f in ConnectionSettings.model_fields if f != "consumer_name"}
    required |= {f.upper() for f in Secrets.model_fields} | {"POD_NAME"}
    workloads = [*app_deployments(rendered[name]).values(), *of_kind(rendered[name], "CronJob")]
    assert workloads
    for manifest in workloads:
        which = component_of(manifest)
        container = pod_spec(manifest)["containers"][0]  # type: ignore[index]
        env = env_of(container)
        assert required <= set(env), f"{which} misses {required - set(env)}"
        assert set(env) <= known_env_names(which), (
            f"{which} sets variables nothing reads: {set(env) - known_env_names(which)}"
        )
        pod_name = env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"]
        assert pod_name == "metadata.name"


def test_literal_env_values_parse_as_settings(
    rendered: dict[str, list[Manifest]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sagakit.settings import ConnectionSettings
    from simulator.actors.settings import ActorSettings

    actors = app_deployments(rendered["default"])["actors"]
    env = env_of(actors["spec"]["template"]["spec"]["containers"][0])
    for entry_name, entry in env.items():
        if "value" in entry:
            monkeypatch.setenv(entry_name, entry["value"])
    connections = ConnectionSettings()
    assert connections.stream_prefix == ""
    assert connections.mongo_db == "orders_saga"
    assert connections.log_json is True
    assert ActorSettings().actors_zero_delay is False


@pytest.mark.parametrize("name", value_sets())
def test_secret_references_resolve(name: str, rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered[name]
    secret_name = "my-secrets" if name == "minimal" else f"{FULLNAME}-secrets"
    available = None if name == "minimal" else set(secret_data(manifests))
    if name == "minimal":
        assert of_kind(manifests, "Secret") == []
    references = 0
    for manifest in manifests:
        for container, _ in containers(manifest):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    references += 1
                    assert ref["name"] == secret_name
                    if available is not None:
                        assert ref["key"] in available
    assert references >= 5


def test_generated_secrets_satisfy_the_services(rendered: dict[str, list[Manifest]]) -> None:
    from saga_contracts.secrets import Secrets

    data = secret_data(rendered["default"])
    Secrets(operator_api_key=data["OPERATOR_API_KEY"], tracking_secret=data["TRACKING_SECRET"])
    assert data["OPERATOR_API_KEY"] != data["TRACKING_SECRET"]
    assert len(data["mongodb-keyfile"]) >= 6 * 100  # mongod accepts 6..1024 base64 characters
    mongo = urlsplit(data["MONGO_URL"])
    assert mongo.password == data["mongodb-app-password"]
    assert urlsplit(data["REDIS_URL"]).password == data["redis-password"]
    secret = named(rendered["default"], "Secret", f"{FULLNAME}-secrets")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_secrets_template_reuses_values_found_in_the_cluster() -> None:
    # Offline rendering cannot exercise `lookup`; check that every generated key is looked up.
    template = (CHART / "templates" / "secret.yaml").read_text()
    assert 'lookup "v1" "Secret"' in template
    for key in (
        "OPERATOR_API_KEY",
        "TRACKING_SECRET",
        "mongodb-root-password",
        "mongodb-app-password",
        "mongodb-keyfile",
        "redis-password",
    ):
        assert f'get $previous "{key}"' in template, key


def test_explicit_secrets_are_used(rendered: dict[str, list[Manifest]]) -> None:
    data = secret_data(
        render({"secrets": {"operatorApiKey": "k" * 24, "trackingSecret": "t" * 24}})
    )
    assert data["OPERATOR_API_KEY"] == "k" * 24
    assert data["TRACKING_SECRET"] == "t" * 24


def test_external_datastores(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["external"]
    assert of_kind(manifests, "StatefulSet") == []
    assert not [m for m in of_kind(manifests, "Job")]
    data = secret_data(manifests)
    assert data["MONGO_URL"] == VALUE_SETS["external"]["mongodb"]["externalUrl"]
    assert data["REDIS_URL"] == VALUE_SETS["external"]["redis"]["externalUrl"]


# -- the refill CronJob ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "pi4"])
def test_refill_cronjob_runs_a_real_cli_subcommand(
    name: str, rendered: dict[str, list[Manifest]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orders_saga_cli.main import _parser

    cronjob = named(rendered[name], "CronJob", f"{FULLNAME}-refill-stock")
    container = pod_spec(cronjob)["containers"][0]  # type: ignore[index]
    command = container["command"]
    assert command[0] == "orders-saga"
    run_id = env_of(container)["REFILL_RUN_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert run_id == "metadata.labels['job-name']"
    # The CLI reads REFILL_RUN_ID as the default of --run-id: feed it as the pod would.
    monkeypatch.setenv("REFILL_RUN_ID", "shop-orders-saga-refill-stock-29000000")
    args = _parser().parse_args(command[1:])
    assert args.command == "refill-stock"
    assert args.to == 100
    assert args.run_id == "shop-orders-saga-refill-stock-29000000"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


def test_refill_cli_rejects_an_unknown_subcommand() -> None:
    # the check above would be meaningless if the parser accepted anything
    from orders_saga_cli.main import _parser

    with pytest.raises(SystemExit):
        _parser().parse_args(["refill-stocks", "--to", "100"])


# -- ingress and services ----------------------------------------------------------------------


def service_paths(component: str) -> list[str]:
    """Every HTTP and WebSocket route the component's app serves."""
    import importlib

    from saga_contracts.secrets import Secrets
    from sagakit.settings import ConnectionSettings

    app_module = importlib.import_module(APP_MODULES[component])
    service = app_module.build_service(
        connections=ConnectionSettings(),
        secrets=Secrets(operator_api_key="o" * 20, tracking_secret="s" * 20),
    )

    def walk(routes: list[Any], prefix: str) -> list[str]:
        paths: list[str] = []
        for route in routes:
            if hasattr(route, "original_router"):
                inner = prefix + route.include_context.prefix
                paths += walk(route.original_router.routes, inner)
            elif getattr(route, "path", None):
                paths.append(prefix + route.path)
        return paths

    return walk(service.app.routes, "")


def ingress_backends(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    """Path -> backend service of the release's single Ingress rule."""
    [ingress] = of_kind(manifests, "Ingress")
    [rule] = ingress["spec"]["rules"]
    assert {p["pathType"] for p in rule["http"]["paths"]} == {"Prefix"}
    return {p["path"]: p["backend"]["service"] for p in rule["http"]["paths"]}


def backend_pods(manifests: list[Manifest], backend: dict[str, Any]) -> list[Manifest]:
    """The Deployments behind an Ingress backend whose Service port targets a named container
    port of theirs."""
    service = named(manifests, "Service", backend["name"])
    [port] = [p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"]]
    pods = [
        d
        for d in of_kind(manifests, "Deployment")
        if selects(service["spec"]["selector"], pod_labels(d))
    ]
    for pod in pods:
        container = pod["spec"]["template"]["spec"]["containers"][0]
        assert port["targetPort"] in {p["name"] for p in container["ports"]}
    return pods


@pytest.mark.parametrize("name", ["default", "minimal", "no-frontend"])
def test_ingress_paths_reach_the_owning_service(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    manifests = rendered[name]
    [ingress] = of_kind(manifests, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    backends = ingress_backends(manifests)
    assert set(backends) - {"/"} == set(ROUTES)
    paths_by_component = {c: service_paths(c) for c in set(ROUTES.values())}
    for path, component in ROUTES.items():
        pods = backend_pods(manifests, backends[path])
        assert [component_of(d) for d in pods] == [component]
        served = paths_by_component[component]
        assert any(p == path or p.startswith(path + "/") for p in served), (
            f"{component} serves nothing under {path}"
        )


def test_ingress_tls_uses_the_host(rendered: dict[str, list[Manifest]]) -> None:
    [ingress] = of_kind(rendered["minimal"], "Ingress")
    assert ingress["spec"]["tls"] == [{"secretName": "shop-tls", "hosts": ["shop.example"]}]
    assert ingress["spec"]["rules"][0]["host"] == "shop.example"


@pytest.mark.parametrize("name", value_sets())
def test_every_service_and_budget_selects_pods(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    manifests = rendered[name]
    workloads = of_kind(manifests, "Deployment") + of_kind(manifests, "StatefulSet")
    for service in of_kind(manifests, "Service"):
        assert [w for w in workloads if selects(service["spec"]["selector"], pod_labels(w))]
    budgets = of_kind(manifests, "PodDisruptionBudget")
    if name == "minimal":
        assert budgets == []
        return
    for workload in workloads:
        covering = [
            b
            for b in budgets
            if selects(b["spec"]["selector"]["matchLabels"], pod_labels(workload))
        ]
        assert len(covering) == 1, workload["metadata"]["name"]


@pytest.mark.parametrize("name", ["default", "replicaset3", "external"])
def test_network_policies_admit_every_datastore_client(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    manifests = rendered[name]
    policies = of_kind(manifests, "NetworkPolicy")
    workloads = [w for w in manifests if pod_spec(w) is not None]
    for store in ("mongodb", "redis"):
        found = [p for p in policies if p["metadata"]["name"] == f"{FULLNAME}-{store}"]
        if name == "external":
            assert found == []
            continue
        [policy] = found
        allowed = [
            peer["podSelector"]["matchLabels"] for peer in policy["spec"]["ingress"][0]["from"]
        ]
        for workload in workloads:
            component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
            if component in {"mongodb", "redis"} and component != store:
                continue
            admitted = any(selects(sel, pod_labels(workload)) for sel in allowed)
            if component == "frontend":  # static files: it has no business with a datastore
                assert not admitted, f"the frontend can reach {store}"
            elif not admitted:
                pytest.fail(f"{component} cannot reach {store}")


# -- the browser app ---------------------------------------------------------------------------

FRONTEND_CONF = REPO / "deploy" / "frontend.nginx.conf.template"
FRONTEND_DOCKERFILE = REPO / "deploy" / "frontend.Dockerfile"


def frontend_of(manifests: list[Manifest]) -> Manifest:
    return named(manifests, "Deployment", f"{FULLNAME}-frontend")


def mebibytes(quantity: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi)", quantity)
    assert match, f"{quantity}: not a Ki/Mi/Gi quantity"
    number, unit = match.groups()
    return float(number) * {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}[unit]


@pytest.mark.parametrize("name", ["default", "minimal", "pi4"])
def test_ingress_sends_every_other_path_to_the_frontend(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    manifests = rendered[name]
    pods = backend_pods(manifests, ingress_backends(manifests)["/"])
    assert [component_of(d) for d in pods] == ["frontend"]


def test_frontend_off_renders_no_frontend_object(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["no-frontend"]
    assert [m["kind"] for m in manifests if "frontend" in m["metadata"]["name"]] == []
    assert "/" not in ingress_backends(manifests)
    # and on: a Deployment, its Service, budget and policy
    kinds = {m["kind"] for m in rendered["default"] if m["metadata"]["name"].endswith("-frontend")}
    assert kinds == {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"}


def test_frontend_pod_is_non_root_with_a_read_only_root_and_a_writable_tmp(
    rendered: dict[str, list[Manifest]],
) -> None:
    deployment = frontend_of(rendered["default"])
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    # the image's own USER is the same numeric user, so compose runs it as the chart does
    users = re.findall(r"^USER (\d+):(\d+)$", FRONTEND_DOCKERFILE.read_text(), re.MULTILINE)
    assert users == [(str(pod_security["runAsUser"]), str(pod_security["runAsGroup"]))]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    # nginx-unprivileged keeps its pid file and temp files under /tmp: an emptyDir
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert set(mounts) == {"/tmp"}
    assert "emptyDir" in mounts["/tmp"]
    assert "temp_path" not in FRONTEND_CONF.read_text()  # nothing moves them elsewhere
    # no secret, no token, no datastore: its environment is where the services are, nothing else
    assert spec["automountServiceAccountToken"] is False
    assert "envFrom" not in container
    env = env_of(container)
    assert set(env) == {"ORDERS_UPSTREAM", "DELIVERY_UPSTREAM", "NOTIFICATIONS_UPSTREAM"}
    assert all(set(entry) == {"name", "value"} for entry in env.values())
    assert "orders-saga/datastore-client" not in pod_labels(deployment)


def test_frontend_probes_ports_resources_and_image(rendered: dict[str, list[Manifest]]) -> None:
    [container] = frontend_of(rendered["default"])["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    conf = FRONTEND_CONF.read_text()
    assert "location = /healthz" in conf
    [listen] = re.findall(r"^\s*listen (\d+);", conf, re.MULTILINE)
    [exposed] = re.findall(r"^EXPOSE (\d+)$", FRONTEND_DOCKERFILE.read_text(), re.MULTILINE)
    assert container["ports"] == [{"name": "http", "containerPort": int(listen), "protocol": "TCP"}]
    assert exposed == listen
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert mebibytes(requests["memory"]) <= mebibytes(limits["memory"]) <= 128  # a Pi's share
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert container["image"] == f"ghcr.io/orders-saga/frontend:{chart['appVersion']}"
    tagged = frontend_of(render({"image": {"registry": "registry.example/shop", "tag": "1.2.3"}}))
    assert tagged["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.example/shop/frontend:1.2.3"
    )


@pytest.mark.parametrize("name", ["default", "minimal", "pi4"])
def test_frontend_proxies_to_the_services_by_their_full_dns_names(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    """The image's nginx sends each API prefix to the upstream its *_UPSTREAM names (checked in
    test_nginx.py): each must be the owning service's Service, on a port that reaches its pods."""
    manifests = rendered[name]
    [container] = frontend_of(manifests)["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    for owner in sorted(set(ROUTES.values())):
        host, _, port = env[f"{owner.upper()}_UPSTREAM"]["value"].rpartition(":")
        service_name, namespace, *domain = host.split(".")
        # nginx's resolver does not apply the pod's search domains: the name must be complete
        assert (namespace, domain) == (NAMESPACE, ["svc", "cluster", "local"])
        service = named(manifests, "Service", service_name)
        [service_port] = [p for p in service["spec"]["ports"] if p["port"] == int(port)]
        pods = backend_pods(
            manifests, {"name": service_name, "port": {"name": service_port["name"]}}
        )
        assert [component_of(d) for d in pods] == [owner]


@pytest.mark.parametrize("name", ["default", "pi4"])
def test_network_policies_let_the_frontend_reach_the_services_it_proxies_to(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    manifests = rendered[name]
    frontend = frontend_of(manifests)
    policies = of_kind(manifests, "NetworkPolicy")
    for owner in sorted(set(ROUTES.values())):
        deployment = app_deployments(manifests)[owner]
        [port] = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        selecting = [
            p
            for p in policies
            if selects(p["spec"]["podSelector"]["matchLabels"], pod_labels(deployment))
        ]
        assert selecting, owner  # isolated: the check below means something
        admitted = [
            rule
            for policy in selecting
            for rule in policy["spec"]["ingress"]
            if {"port": port["containerPort"], "protocol": "TCP"} in rule["ports"]
            and any(
                selects(peer["podSelector"]["matchLabels"], pod_labels(frontend))
                for peer in rule["from"]
                if "podSelector" in peer and "namespaceSelector" not in peer
            )
        ]
        assert admitted, f"the frontend cannot reach {owner}"


def test_frontend_policy_admits_only_the_ingress_controller(
    rendered: dict[str, list[Manifest]],
) -> None:
    manifests = rendered["default"]
    frontend = frontend_of(manifests)
    port = frontend["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    selecting = [
        p
        for p in of_kind(manifests, "NetworkPolicy")
        if selects(p["spec"]["podSelector"]["matchLabels"], pod_labels(frontend))
    ]
    # policies add up: the frontend's must be the only one that selects its pods
    assert [p["metadata"]["name"] for p in selecting] == [f"{FULLNAME}-frontend"]
    [rule] = selecting[0]["spec"]["ingress"]
    assert rule["ports"] == [{"port": port, "protocol": "TCP"}]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]


# -- MongoDB replica set -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "members"), [("default", 1), ("replicaset3", 3)])
def test_mongodb_replica_set(name: str, members: int, rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered[name]
    sts = named(manifests, "StatefulSet", f"{FULLNAME}-mongodb")
    assert sts["spec"]["replicas"] == members
    command = sts["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--replSet=rs0" in command
    assert "--keyFile=/keyfile/keyfile" in command
    headless = named(manifests, "Service", f"{FULLNAME}-mongodb-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == headless["metadata"]["name"]
    hosts = [
        f"{FULLNAME}-mongodb-{i}.{FULLNAME}-mongodb-headless.{NAMESPACE}.svc.cluster.local:27017"
        for i in range(members)
    ]
    mongo_url = urlsplit(secret_data(manifests)["MONGO_URL"])
    assert mongo_url.netloc.split("@")[1] == ",".join(hosts)
    assert "replicaSet=rs0" in mongo_url.query
    [job] = of_kind(manifests, "Job")
    init = env_of(job["spec"]["template"]["spec"]["containers"][0])
    assert init["MEMBERS"]["value"] == ",".join(hosts)
    script = named(manifests, "ConfigMap", f"{FULLNAME}-mongodb-init")["data"]["init.js"]
    assert "replSetInitiate" in script and "createUser" in script


def test_mongodb_init_job_is_renamed_per_revision() -> None:
    import helm_python as helm_sdk

    chart = helm_sdk.Chart.load(CHART)
    names = set()
    for revision in (1, 2):
        out = chart.render({}, name=RELEASE, namespace=NAMESPACE, revision=revision)
        text = out["orders-saga/templates/mongodb-init-job.yaml"]
        names |= {line.split()[-1] for line in text.splitlines() if "-mongodb-init-" in line}
    assert names == {f"{FULLNAME}-mongodb-init-1", f"{FULLNAME}-mongodb-init-2"}


# -- autoscaling -------------------------------------------------------------------------------


def test_keda_triggers_follow_the_stream_topology(rendered: dict[str, list[Manifest]]) -> None:
    from saga_contracts.topology import Streams

    manifests = rendered["keda"]
    readers = Streams("").readers()
    expected = {(stream, group) for stream, groups in readers.items() for group in groups}
    deployments = app_deployments(manifests)
    seen = set()
    for scaled in of_kind(manifests, "ScaledObject"):
        target = scaled["spec"]["scaleTargetRef"]["name"]
        assert target in {d["metadata"]["name"] for d in deployments.values()}
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "redis-streams"
            meta = trigger["metadata"]
            assert meta["address"] == f"{FULLNAME}-redis.{NAMESPACE}.svc.cluster.local:6379"
            assert int(meta["lagCount"]) > 0
            assert trigger["authenticationRef"]["name"] == f"{FULLNAME}-redis"
            seen.add((meta["stream"], meta["consumerGroup"]))
    assert seen == expected
    for deployment in deployments.values():
        assert "replicas" not in deployment["spec"]  # the autoscaler owns it


def test_keda_auth_reads_the_redis_password(rendered: dict[str, list[Manifest]]) -> None:
    [auth] = of_kind(rendered["keda"], "TriggerAuthentication")
    [ref] = auth["spec"]["secretTargetRef"]
    assert ref == {"parameter": "password", "name": f"{FULLNAME}-secrets", "key": "redis-password"}


def test_hpa_targets_each_deployment(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["hpa"]
    targets = {
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(manifests, "HorizontalPodAutoscaler")
    }
    # the browser app's nginx serves files from memory: one replica is plenty, so no autoscaler
    assert targets == {d["metadata"]["name"] for d in app_deployments(manifests).values()}
    assert f"{FULLNAME}-frontend" not in targets
    assert of_kind(rendered["default"], "HorizontalPodAutoscaler") == []


def test_redis_keeps_an_append_only_file_on_a_volume(rendered: dict[str, list[Manifest]]) -> None:
    sts = named(rendered["default"], "StatefulSet", f"{FULLNAME}-redis")
    command = sts["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    data_dir = command[command.index("--dir") + 1]
    [claim] = sts["spec"]["volumeClaimTemplates"]
    mounts = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": claim["metadata"]["name"], "mountPath": data_dir} in mounts


def notes(values: dict[str, Any]) -> str:
    chart = helm.Chart.load(CHART)
    rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    text: str = rendered["orders-saga/templates/NOTES.txt"]
    return text


def test_notes_render_the_operator_key_command_and_the_app_address() -> None:
    text = notes({"ingress": {"host": "shop.example", "tls": {"enabled": True, "secretName": "t"}}})
    assert f"get secret {FULLNAME}-secrets" in text
    assert "https://shop.example/ops " in text
    assert "https://shop.example/ " in text
    assert "curl -s https://shop.example/api/menu" in text
    assert "http://<ingress address>/ " in notes({})


def test_notes_point_at_the_frontend_service_when_the_ingress_is_off() -> None:
    text = notes({"ingress": {"enabled": False}})
    assert f"port-forward svc/{FULLNAME}-frontend 8080:80" in text
    assert 'namespace\n"ingress-nginx"' in text  # where a proxy of one's own must run


def test_notes_say_when_the_browser_app_is_off() -> None:
    text = notes({"frontend": {"enabled": False}})
    assert "/ops" not in text.replace("/api/ops", "")
    assert "browser app is off" in text


@pytest.mark.parametrize("flavour", ["legacy", "mongosh"])
@pytest.mark.parametrize("members", [1, 3])
def test_mongodb_init_script_is_idempotent(
    flavour: str, members: int, tmp_path: Path, rendered: dict[str, list[Manifest]]
) -> None:
    """Runs the init script twice under node against a fake shell (legacy 4.4 semantics return
    {ok: 0}, mongosh throws): one initiation with every member, then users updated in place."""
    import json
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    manifests = rendered["replicaset3" if members == 3 else "default"]
    script = named(manifests, "ConfigMap", f"{FULLNAME}-mongodb-init")["data"]["init.js"]
    [job] = of_kind(manifests, "Job")
    env = env_of(job["spec"]["template"]["spec"]["containers"][0])
    preamble = (
        f"var MEMBERS={json.dumps(env['MEMBERS']['value'])}, RS_NAME='rs0', APP_DB='orders_saga',"
        " ROOT_USER='root', ROOT_PASSWORD='rp', APP_USER='orders_saga', APP_PASSWORD='ap';\n"
    )
    (tmp_path / "init.js").write_text(preamble + script)
    state_file = tmp_path / "state.json"
    state_file.write_text("{}")
    fake = Path(__file__).with_name("mongo_shell_fake.js")
    for _ in range(2):
        subprocess.run(
            [node, str(fake), str(tmp_path / "init.js"), str(state_file), flavour],
            check=True,
            capture_output=True,
            text=True,
        )
    state = json.loads(state_file.read_text())
    assert state["initiations"] == 1
    assert [m["host"] for m in state["config"]["members"]] == env["MEMBERS"]["value"].split(",")
    assert [m["_id"] for m in state["config"]["members"]] == list(range(members))
    assert state["users"]["root"]["roles"] == [{"role": "root", "db": "admin"}]
    assert state["users"]["orders_saga"] == {
        "pwd": "ap",
        "roles": [{"role": "readWrite", "db": "orders_saga"}],
    }


# -- high availability (values-ha.yaml) ---------------------------------------------------------

STATELESS = ("orders", "delivery", "notifications", "actors", "frontend")


@pytest.mark.parametrize("name", ["ha", "ha-required-spread"])
def test_ha_runs_two_of_every_stateless_service_spread_and_budgeted(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    manifests = rendered[name]
    budgets = of_kind(manifests, "PodDisruptionBudget")
    for component in STATELESS:
        deployment = named(manifests, "Deployment", f"{FULLNAME}-{component}")
        assert deployment["spec"]["replicas"] == 2, component
        labels = pod_labels(deployment)
        (budget,) = [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert budget["spec"]["maxUnavailable"] == 1, component
        spec = pod_spec(deployment)
        assert spec is not None
        anti = spec["affinity"]["podAntiAffinity"]
        if name == "ha":
            (preferred,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
            term = preferred["podAffinityTerm"]
        else:
            (term,) = anti["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        # the term selects this component's pods and no other component's
        assert selects(term["labelSelector"]["matchLabels"], labels), component
        assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == component


def test_spreading_can_be_turned_off() -> None:
    manifests = render({"scheduling": {"spreadAcrossNodes": "off", "preStopDelaySeconds": 3}})
    for component in STATELESS:
        spec = pod_spec(named(manifests, "Deployment", f"{FULLNAME}-{component}"))
        assert spec is not None and "affinity" not in spec, component


@pytest.mark.parametrize("name", ["default", "ha", "ha-required-spread"])
def test_services_drain_before_sigterm_and_finish_within_the_grace_period(
    name: str, rendered: dict[str, list[Manifest]]
) -> None:
    """preStop keeps the pod serving while endpoints go; then the process has the 10 s its
    SIGTERM handling needs (DESIGN.md §5) within terminationGracePeriodSeconds."""
    for component in APP_MODULES:
        spec = pod_spec(named(rendered[name], "Deployment", f"{FULLNAME}-{component}"))
        assert spec is not None
        (container,) = spec["containers"]
        pre_stop = container.get("lifecycle", {}).get("preStop")
        delay = int(pre_stop["exec"]["command"][1]) if pre_stop else 0
        if pre_stop:
            assert pre_stop["exec"]["command"][0] == "sleep"
        assert delay == (0 if name == "ha-required-spread" else 3)
        assert spec["terminationGracePeriodSeconds"] >= delay + 10 + 2, component
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"

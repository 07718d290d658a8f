"""The REAL kubectl's typed generators (``kubectl create <kind>``, ``drain --disable-eviction``) against KubeAPI.

kubectl >= 1.32 sends these bodies as Kubernetes protobuf (``application/vnd.kubernetes.protobuf``), older
clients as JSON; either way the stored object must be the one kubectl built. What kubectl built is read from
kubectl itself: ``--dry-run=client -o json`` renders the same object client-side, and every field of it must come
back from ``get -o json`` unchanged (the server only adds to it: uid, timestamps, defaults, status)."""

from __future__ import annotations

import base64
import functools
import json
import subprocess

PROTOBUF = "application/vnd.kubernetes.protobuf"


@functools.lru_cache(maxsize=None)
def _minor(binary: str) -> int:
    out = subprocess.run([binary, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30)
    return int("".join(ch for ch in json.loads(out.stdout)["clientVersion"]["minor"] if ch.isdigit()))


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _assert_subset(expected, actual, path="$"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing from the stored object"
            _assert_subset(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r} != {expected!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            _assert_subset(e, a, f"{path}[{i}]")
    else:
        assert actual == expected, f"{path}: stored {actual!r}, kubectl sent {expected!r}"


def _create_and_compare(kubectl, args: list[str], resource: str, namespace: str | None = None) -> dict:
    """``kubectl create <args>``, then every field of kubectl's own rendering must be in ``get -o json``."""
    at = args.index("--") if "--" in args else len(args)
    rendered = kubectl(*args[:at], "--dry-run=client", "-o", "json", *args[at:]).stdout
    expected = _without_nulls(json.loads(rendered))
    out = kubectl(*args).stdout
    assert out.strip().endswith(("created", "created (dry run)")), out
    ns = ["-n", namespace] if namespace else []
    stored = json.loads(kubectl("get", resource, *ns, "-o", "json").stdout)
    _assert_subset(expected, stored)
    return stored


def _creates(https) -> list[str]:
    return [ctype for method, _path, ctype in https.requests if method == "POST"]


def test_create_namespace_configmap_deployment_secret(kubectl, https):
    ns = _create_and_compare(kubectl, ["create", "namespace", "demo"], "namespace/demo")
    assert ns["status"]["phase"] == "Active"
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "demo"

    cm = _create_and_compare(
        kubectl,
        ["create", "configmap", "settings", "-n", "demo", "--from-literal=level=2", "--from-literal=mode=edge"],
        "configmap/settings",
        "demo",
    )
    assert cm["data"] == {"level": "2", "mode": "edge"}
    assert cm["metadata"]["namespace"] == "demo" and cm["metadata"]["uid"]

    deploy = _create_and_compare(
        kubectl,
        ["create", "deployment", "web", "-n", "demo", "--image=nginx:1.27", "--replicas=2", "--port=80"],
        "deployment.apps/web",
        "demo",
    )
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    template = deploy["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "web"}
    assert [(c["name"], c["image"], c["ports"]) for c in template["spec"]["containers"]] == [
        ("nginx", "nginx:1.27", [{"containerPort": 80}])
    ]

    secret = _create_and_compare(
        kubectl,
        ["create", "secret", "generic", "creds", "-n", "demo", "--from-literal=password=hunter2"],
        "secret/creds",
        "demo",
    )
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"

    jp = "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}"
    assert kubectl("get", "deploy", "web", "-n", "demo", "-o", jp).stdout == "2 nginx:1.27"
    again = kubectl("create", "configmap", "settings", "-n", "demo", "--from-literal=level=3", check=False)
    assert again.returncode != 0 and 'configmaps "settings" already exists' in again.stderr
    assert kubectl("get", "cm", "settings", "-n", "demo", "-o", "jsonpath={.data.level}").stdout == "2"

    sent = _creates(https)
    assert len(sent) == 5
    if _minor(kubectl.binary) >= 32:  # the client this suite exists for: it must have used protobuf
        assert all(ctype == PROTOBUF for ctype in sent), sent


GENERATORS = [
    (["create", "service", "clusterip", "api", "--tcp=80:8080"], "service/api"),
    (["create", "service", "nodeport", "edge", "--tcp=8443:443", "--node-port=30443"], "service/edge"),
    (["create", "service", "externalname", "ext", "--external-name=example.com"], "service/ext"),
    (["create", "serviceaccount", "robot"], "serviceaccount/robot"),
    (["create", "job", "once", "--image=busybox", "--", "echo", "hi"], "job.batch/once"),
    (["create", "role", "reader", "--verb=get,list", "--resource=configmaps"], "role/reader"),
    (
        ["create", "rolebinding", "reader", "--role=reader", "--user=bob", "--serviceaccount=work:robot"],
        "rolebinding/reader",
    ),
    (["create", "clusterrole", "nodes", "--verb=get", "--resource=nodes"], "clusterrole/nodes"),
    (["create", "clusterrolebinding", "nodes", "--clusterrole=nodes", "--group=ops"], "clusterrolebinding/nodes"),
    (["create", "poddisruptionbudget", "web", "--selector=app=web", "--max-unavailable=50%"], "pdb/web"),
    (
        ["create", "secret", "docker-registry", "pull", "--docker-server=r.example", "--docker-username=u"]
        + ["--docker-password=p"],
        "secret/pull",
    ),
]


def test_other_create_generators(kubectl, https):
    kubectl("create", "namespace", "work")
    for args, resource in GENERATORS:
        cluster_scoped = args[1].startswith("cluster")
        ns = None if cluster_scoped else "work"
        _create_and_compare(kubectl, [args[0], *(["-n", ns] if ns else []), *args[1:]], resource, ns)
    svc = json.loads(kubectl("get", "svc", "edge", "-n", "work", "-o", "json").stdout)
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["nodePort"] == 30443 and svc["spec"]["ports"][0]["targetPort"] == 443
    rb = json.loads(kubectl("get", "rolebinding", "reader", "-n", "work", "-o", "json").stdout)
    assert [(s["kind"], s["name"]) for s in rb["subjects"]] == [("User", "bob"), ("ServiceAccount", "robot")]
    if _minor(kubectl.binary) >= 32:
        assert set(_creates(https)) == {PROTOBUF}


def test_drain_deletes_pods_with_delete_options(api, client, kubectl, https):
    """``drain --disable-eviction`` deletes each pod through the typed client: a DELETE with a DeleteOptions body."""
    api.ensure_node("agent-1", "10.0.0.100")
    pod = {"metadata": {"name": "lone"}, "spec": {"nodeName": "agent-1", "containers": [{"name": "c", "image": "i"}]}}
    assert client("POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    proc = kubectl("drain", "agent-1", "--disable-eviction", "--force", "--ignore-daemonsets", "--timeout=30s")
    assert "node/agent-1 drained" in proc.stdout + proc.stderr
    assert kubectl("get", "pods", "-A", "-o", "name").stdout.split() == []
    deletes = [ctype for method, path, ctype in https.requests if method == "DELETE" and path.endswith("/pods/lone")]
    assert deletes
    if _minor(kubectl.binary) >= 32:
        assert deletes[0] == PROTOBUF

"""The Kubernetes protobuf request encoding (``k3srt.kubeapi.protobuf``), against byte strings built by hand.

Every byte string here is written from the published field numbers (k8s.io/api ``core/v1``, ``apps/v1``
generated.proto; k8s.io/apimachinery ``runtime``, ``meta/v1``, ``intstr``, ``resource``), never produced by the
codec under test. A protobuf key byte is ``field_number << 3 | wire_type`` (wire type 0 varint, 2 length-delimited):
``0x0a`` = field 1 bytes, ``0x12`` = field 2 bytes, ``0x1a`` = 3, ``0x22`` = 4, ``0x08`` = field 1 varint,
``0x10`` = field 2 varint, ``0x20`` = field 4 varint.
"""

from __future__ import annotations

import base64

import pytest
from k3srt.kubeapi import protobuf

PB = "application/vnd.kubernetes.protobuf"


def length(n: int) -> bytes:
    """A varint length (7 bits a byte, low group first, high bit = more)."""
    out = b""
    while n >= 0x80:
        out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
    return out + bytes([n])


def ld(key: int | bytes, payload: bytes) -> bytes:
    """One length-delimited field; ``key`` is the key byte (or bytes, for field numbers >= 16)."""
    return (bytes([key]) if isinstance(key, int) else key) + length(len(payload)) + payload


def envelope(api_version: bytes, kind: bytes, raw: bytes) -> bytes:
    """magic + runtime.Unknown{1 typeMeta{1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding "", 4 contentType ""}."""
    type_meta = ld(0x0A, api_version) + ld(0x12, kind)
    return b"k8s\x00" + ld(0x0A, type_meta) + ld(0x12, raw) + b"\x1a\x00" + b"\x22\x00"


# kubectl v1.32.4 `kubectl create namespace demo`, byte for byte as it sent it (gogo-protobuf writes every
# non-pointer field, so the empty strings and zeros below are "unset" and must not reach the object).
KUBECTL_132_NAMESPACE = bytes.fromhex(
    "6b387300"  # magic k8s\0
    "0a0f"  # Unknown.typeMeta (15 bytes)
    "0a027631"  # TypeMeta.apiVersion "v1"
    "12094e616d657370616365"  # TypeMeta.kind "Namespace"
    "121c"  # Unknown.raw (28 bytes): a Namespace
    "0a14"  # Namespace.metadata (20 bytes): ObjectMeta
    "0a0464656d6f"  # 1 name "demo"
    "1200"  # 2 generateName ""
    "1a00"  # 3 namespace ""
    "2200"  # 4 selfLink ""
    "2a00"  # 5 uid ""
    "3200"  # 6 resourceVersion ""
    "3800"  # 7 generation 0
    "4200"  # 8 creationTimestamp {} (zero Time)
    "1200"  # Namespace.spec {}
    "1a020a00"  # Namespace.status {1 phase ""}
    "1a00"  # Unknown.contentEncoding ""
    "2200"  # Unknown.contentType ""
)


def test_namespace_exactly_as_kubectl_132_sends_it():
    assert protobuf.decode_object(KUBECTL_132_NAMESPACE) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "demo"},
        "spec": {},
        "status": {},
    }


def test_configmap_maps_bytes_and_pointer_bool():
    meta = ld(0x0A, b"cfg") + ld(0x1A, b"demo") + ld(0x5A, ld(0x0A, b"app") + ld(0x12, b"web"))  # 11 labels
    raw = (
        ld(0x0A, meta)
        + ld(0x12, ld(0x0A, b"a") + ld(0x12, b"1"))  # 2 data entry a=1
        + ld(0x12, ld(0x0A, b"b") + ld(0x12, b""))  # 2 data entry b="" (kept: map values have no omitempty)
        + ld(0x1A, ld(0x0A, b"blob") + ld(0x12, b"\xff\x00\x01"))  # 3 binaryData entry
        + b"\x20\x00"  # 4 immutable false: a *bool, so false is kept
    )
    assert protobuf.decode_object(envelope(b"v1", b"ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "demo", "labels": {"app": "web"}},
        "data": {"a": "1", "b": ""},
        "binaryData": {"blob": base64.b64encode(b"\xff\x00\x01").decode()},
        "immutable": False,
    }


def test_secret_data_is_base64_and_type_and_string_data():
    raw = (
        ld(0x0A, ld(0x0A, b"s1") + b"\x38\x80\x80\x80\x80\x20")  # ObjectMeta 1 name, 7 generation 2**33 (int64)
        + ld(0x12, ld(0x0A, b"pw") + ld(0x12, b"hunter2"))  # 2 data (bytes)
        + ld(0x1A, b"Opaque")  # 3 type
        + ld(0x22, ld(0x0A, b"user") + ld(0x12, b"bob"))  # 4 stringData
    )
    assert protobuf.decode_object(envelope(b"v1", b"Secret", raw)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s1", "generation": 2**33},
        "data": {"pw": "aHVudGVyMg=="},
        "type": "Opaque",
        "stringData": {"user": "bob"},
    }


def _deployment_raw() -> bytes:
    labels = ld(0x5A, ld(0x0A, b"app") + ld(0x12, b"web"))  # ObjectMeta 11 labels: entry{1 key, 2 value}
    container = (
        ld(0x0A, b"web")  # Container 1 name
        + ld(0x12, b"nginx:1.27")  # 2 image
        + ld(0x1A, b"nginx")  # 3 command (repeated) ...
        + ld(0x1A, b"-g")
        + ld(0x32, b"\x18\x50")  # 6 ports: ContainerPort{3 containerPort 80}
        + ld(0x42, ld(0x0A, ld(0x0A, b"memory") + ld(0x12, ld(0x0A, b"64Mi"))))  # 8 resources{1 limits: Quantity}
        + ld(0x3A, ld(0x0A, b"MODE") + ld(0x1A, ld(0x1A, ld(0x0A, ld(0x0A, b"cm")) + ld(0x12, b"mode"))))
        # ^ 7 env: EnvVar{1 name, 3 valueFrom: EnvVarSource{3 configMapKeyRef: ConfigMapKeySelector{
        #   1 LocalObjectReference{1 name} (embedded: inlined in JSON), 2 key}}}
        + ld(0x5A, ld(0x0A, ld(0x12, ld(0x0A, b"/healthz") + ld(0x12, b"\x08\x01" + ld(0x1A, b"http")))) + b"\x10\x05")
        # ^ 11 readinessProbe: Probe{1 ProbeHandler (inlined){2 httpGet{1 path, 2 port: IntOrString{1 type 1,
        #   3 strVal}}}, 2 initialDelaySeconds 5}
    )
    # Volume{1 name, 2 VolumeSource (inlined){19 configMap{1 LocalObjectReference (inlined){1 name}}}};
    # field 19 has a two-byte key: 19 << 3 | 2 = 154 -> 0x9a 0x01.
    volume = ld(0x0A, b"conf") + ld(0x12, ld(b"\x9a\x01", ld(0x0A, ld(0x0A, b"cm"))))
    # PodSpec 1 volumes, 2 containers, 25 priority -5: key 25 << 3 | 0 = 200 -> 0xc8 0x01; an int32 below zero
    # is sent as a 10-byte two's complement varint.
    pod_spec = ld(0x0A, volume) + ld(0x12, container) + b"\xc8\x01" + b"\xfb" + b"\xff" * 8 + b"\x01"
    template = ld(0x0A, labels) + ld(0x12, pod_spec)  # PodTemplateSpec 1 metadata, 2 spec
    # RollingUpdateDeployment 1 maxUnavailable IntOrString{1 type 0, 2 intVal 1}, 2 maxSurge {1 type 1, 3 "25%"}
    rolling = ld(0x0A, b"\x08\x00\x10\x01") + ld(0x12, b"\x08\x01" + ld(0x1A, b"25%"))
    spec = (
        b"\x08\x00"  # DeploymentSpec 1 replicas 0 (an *int32: zero is meaningful and kept)
        + ld(0x12, ld(0x0A, ld(0x0A, b"app") + ld(0x12, b"web")))  # 2 selector{1 matchLabels}
        + ld(0x1A, template)  # 3 template
        + ld(0x22, ld(0x0A, b"RollingUpdate") + ld(0x12, rolling))  # 4 strategy{1 type, 2 rollingUpdate}
        + b"\x28\x00"  # 5 minReadySeconds 0 (non-pointer, omitempty: dropped)
    )
    # ObjectMeta 1 name, 3 namespace, 8 creationTimestamp Time{1 seconds 1700000000 = 2023-11-14T22:13:20Z}
    meta = ld(0x0A, b"web") + ld(0x1A, b"demo") + ld(0x42, b"\x08\x80\xe2\xcf\xaa\x06")
    status = b"\x08\x00\x10\x00"  # DeploymentStatus 1 observedGeneration 0, 2 replicas 0 (unset)
    return ld(0x0A, meta) + ld(0x12, spec) + ld(0x1A, status)


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "demo", "creationTimestamp": "2023-11-14T22:13:20Z"},
    "spec": {
        "replicas": 0,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "volumes": [{"name": "conf", "configMap": {"name": "cm"}}],
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1.27",
                        "command": ["nginx", "-g"],
                        "ports": [{"containerPort": 80}],
                        "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "mode"}}}],
                        "resources": {"limits": {"memory": "64Mi"}},
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 5},
                    }
                ],
                "priority": -5,
            },
        },
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
    },
    "status": {},
}


def test_deployment_nested_messages_inline_structs_int_or_string_time_and_negative_ints():
    raw = _deployment_raw()
    assert len(raw) > 127  # the envelope's raw length is a two-byte varint here
    assert protobuf.decode_object(envelope(b"apps/v1", b"Deployment", raw)) == DEPLOYMENT


def test_encoder_writes_the_canonical_bytes():
    """Fields in number order, map entries sorted by key: what gogo-protobuf writes, minus the unset fields."""
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "labels": {"z": "1", "a": "2"}},
        "data": {"k": "v"},
        "immutable": True,
    }
    labels = ld(0x5A, ld(0x0A, b"a") + ld(0x12, b"2")) + ld(0x5A, ld(0x0A, b"z") + ld(0x12, b"1"))
    raw = ld(0x0A, ld(0x0A, b"cfg") + labels) + ld(0x12, ld(0x0A, b"k") + ld(0x12, b"v")) + b"\x20\x01"
    assert protobuf.encode_object(obj) == envelope(b"v1", b"ConfigMap", raw)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}, "spec": {}, "status": {}}
    assert protobuf.encode_object(ns) == envelope(
        b"v1", b"Namespace", ld(0x0A, ld(0x0A, b"demo")) + b"\x12\x00\x1a\x00"
    )


def test_round_trip_of_a_deployment():
    assert protobuf.decode_object(protobuf.encode_object(DEPLOYMENT)) == DEPLOYMENT


def test_repeated_int64_packed_and_unpacked():
    """PodSecurityContext 4 supplementalGroups (repeated int64): proto2 writes one varint per element, a packed
    writer one length-delimited run; a decoder must accept both."""
    unpacked = b"\x20\x01\x20\xac\x02"  # 1, 300
    packed = ld(0x22, b"\x01\xac\x02")
    for enc in (unpacked, packed):
        assert protobuf.decode_message("PodSecurityContext", enc) == {"supplementalGroups": [1, 300]}


def test_split_embedded_message_merges():
    """Two occurrences of a singular embedded message merge (protobuf semantics)."""
    raw = ld(0x0A, ld(0x0A, b"cfg")) + ld(0x0A, ld(0x1A, b"demo"))
    assert protobuf.decode_message("ConfigMap", raw) == {"metadata": {"name": "cfg", "namespace": "demo"}}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (envelope(b"v1", b"ConfigMap", b"\x48\x01"), r"field 9 \(wire type 0\) of ConfigMap"),
        (envelope(b"v1", b"Pod", ld(0x12, ld(b"\x92\x01", b""))), "field 18 .* of PodSpec"),  # 18 affinity
        (envelope(b"v1", b"Node", b""), "no protobuf field table for v1 Node"),
        (b"k8s\x00" + ld(0x0A, ld(0x0A, b"v1") + ld(0x12, b"ConfigMap")) + ld(0x1A, b"gzip"), "contentEncoding"),
    ],
    ids=["unknown-field", "unknown-nested-field", "kind-without-table", "content-encoding"],
)
def test_what_has_no_table_entry_is_refused(body, needle):
    with pytest.raises(protobuf.Unsupported, match=needle):
        protobuf.decode_object(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"kind": "ConfigMap"}',  # no magic
        b"k8s\x00\x0a\x05\x0a\x02v1",  # typeMeta length runs past the end
        envelope(b"v1", b"ConfigMap", b"\x0a\x00\x12"),  # truncated field
        envelope(b"v1", b"ConfigMap", b"\x08\x01"),  # metadata (a message) sent as a varint
        envelope(b"v1", b"ConfigMap", ld(0x0A, ld(0x0A, b"\xff\xfe"))),  # name not UTF-8
        b"k8s\x00" + ld(0x12, b""),  # no kind
    ],
    ids=["no-magic", "overrun", "truncated", "wire-type", "utf8", "no-kind"],
)
def test_malformed_bodies_are_refused(body):
    with pytest.raises(protobuf.Malformed):
        protobuf.decode_object(body)


# --- through KubeAPI.handle -----------------------------------------------------------------------------------


def _configmap(name: bytes, value: bytes, rv: bytes = b"") -> bytes:
    meta = ld(0x0A, name) + (ld(0x32, rv) if rv else b"")  # ObjectMeta 1 name, 6 resourceVersion
    return envelope(b"v1", b"ConfigMap", ld(0x0A, meta) + ld(0x12, ld(0x0A, b"k") + ld(0x12, value)))


def test_create_update_and_delete_with_protobuf_bodies(client):
    status, obj = client("POST", "/api/v1/namespaces/default/configmaps", _configmap(b"cfg", b"one"), ctype=PB)
    assert status == 201, obj
    assert obj["data"] == {"k": "one"} and obj["metadata"]["namespace"] == "default"
    rv = obj["metadata"]["resourceVersion"].encode()
    body = _configmap(b"cfg", b"two", rv)
    status, obj = client("PUT", "/api/v1/namespaces/default/configmaps/cfg", body, ctype=PB)
    assert status == 200 and obj["data"] == {"k": "two"}
    assert client("GET", "/api/v1/namespaces/default/configmaps/cfg")[1]["data"] == {"k": "two"}
    # DeleteOptions{2 preconditions{2 resourceVersion "1"}}: a stale precondition must be honoured, so it was decoded
    stale = envelope(b"v1", b"DeleteOptions", ld(0x12, ld(0x12, b"1")))
    status, err = client("DELETE", "/api/v1/namespaces/default/configmaps/cfg", stale, ctype=PB)
    assert status == 409 and err["reason"] == "Conflict"
    fresh = envelope(b"v1", b"DeleteOptions", ld(0x12, ld(0x12, obj["metadata"]["resourceVersion"].encode())))
    assert client("DELETE", "/api/v1/namespaces/default/configmaps/cfg", fresh, ctype=PB)[0] == 200
    assert client("GET", "/api/v1/namespaces/default/configmaps/cfg")[0] == 404


def test_refused_protobuf_bodies_are_api_errors_and_store_nothing(client):
    unknown = envelope(b"v1", b"ConfigMap", ld(0x0A, ld(0x0A, b"cfg")) + b"\x48\x01")
    status, err = client("POST", "/api/v1/namespaces/default/configmaps", unknown, ctype=PB)
    assert status == 415 and err["reason"] == "UnsupportedMediaType"
    assert "field 9" in err["message"] and "JSON" in err["message"]
    status, err = client("POST", "/api/v1/namespaces/default/configmaps", b"k8s\x00\x0a\x09", ctype=PB)
    assert status == 400 and err["reason"] == "BadRequest"
    wrong_kind = envelope(b"v1", b"Secret", ld(0x0A, ld(0x0A, b"cfg")))
    assert client("POST", "/api/v1/namespaces/default/configmaps", wrong_kind, ctype=PB)[0] == 400
    assert client("GET", "/api/v1/namespaces/default/configmaps/cfg")[0] == 404
    status, err = client("POST", "/api/v1/namespaces/default/configmaps", b"\xa0", ctype="application/cbor")
    assert status == 415

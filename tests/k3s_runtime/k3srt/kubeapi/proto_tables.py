"""Protobuf field tables for the kinds whose protobuf bodies this runtime decodes (see ``protobuf.py``).

Field numbers are the published ones of the Kubernetes API (``generated.proto`` of k8s.io/api ``core/v1``,
``apps/v1``, ``batch/v1``, ``rbac/v1``, ``policy/v1`` and of k8s.io/apimachinery ``pkg/apis/meta/v1``); JSON names
and the ``keep`` flag follow the Go types' ``json`` tags (``types.go``). Numbers never change in Kubernetes, so a
table read from a newer release also holds for older clients.

One line per field: ``<number> <jsonName> <type> [flags]``.

- types: ``string``, ``bytes`` (JSON: base64), ``bool``, ``int32``, ``int64``, the well-known messages ``Time``,
  ``Quantity``, ``IntOrString``, ``RawJSON`` (``FieldsV1``/``RawExtension``: raw JSON bytes), ``map<string,V>``
  (V: string, bytes, Quantity, Time) or the name of another message here; a ``[]`` prefix means repeated.
- ``keep``: the Go field is a pointer or has no ``omitempty``, so JSON carries its zero value (``replicas: 0``,
  ``automountServiceAccountToken: false``). Without it a zero scalar is what gogo-protobuf writes for an unset
  non-pointer field and JSON omits it, so the decoder drops it too.
- ``inline``: an embedded Go struct (``LocalObjectReference`` in a key selector, ``VolumeSource`` in ``Volume``,
  ``ProbeHandler`` in ``Probe``): its fields sit in the parent JSON object.

A field that is not listed is refused by the decoder, never dropped: add its line here.
"""

from __future__ import annotations

from dataclasses import dataclass

SCALARS = ("string", "bytes", "bool", "int32", "int64")
WELL_KNOWN = ("Time", "Quantity", "IntOrString", "RawJSON")
MAP_VALUES = ("string", "bytes", "Quantity", "Time")

_META = """
ObjectMeta
  1 name string
  2 generateName string
  3 namespace string
  4 selfLink string
  5 uid string
  6 resourceVersion string
  7 generation int64
  8 creationTimestamp Time
  9 deletionTimestamp Time keep
  10 deletionGracePeriodSeconds int64 keep
  11 labels map<string,string>
  12 annotations map<string,string>
  13 ownerReferences []OwnerReference
  14 finalizers []string
  17 managedFields []ManagedFieldsEntry
OwnerReference
  1 kind string keep
  3 name string keep
  4 uid string keep
  5 apiVersion string keep
  6 controller bool keep
  7 blockOwnerDeletion bool keep
ManagedFieldsEntry
  1 manager string
  2 operation string
  3 apiVersion string
  4 time Time keep
  6 fieldsType string
  7 fieldsV1 RawJSON
  8 subresource string
LabelSelector
  1 matchLabels map<string,string>
  2 matchExpressions []LabelSelectorRequirement
LabelSelectorRequirement
  1 key string keep
  2 operator string keep
  3 values []string
Condition
  1 type string keep
  2 status string keep
  3 observedGeneration int64
  4 lastTransitionTime Time
  5 reason string keep
  6 message string keep
DeleteOptions
  1 gracePeriodSeconds int64 keep
  2 preconditions Preconditions
  3 orphanDependents bool keep
  4 propagationPolicy string keep
  5 dryRun []string
  6 ignoreStoreReadErrorWithClusterBreakingPotential bool keep
Preconditions
  1 uid string keep
  2 resourceVersion string keep
"""

_CORE = """
ConfigMap
  1 metadata ObjectMeta
  2 data map<string,string>
  3 binaryData map<string,bytes>
  4 immutable bool keep
Secret
  1 metadata ObjectMeta
  2 data map<string,bytes>
  3 type string
  4 stringData map<string,string>
  5 immutable bool keep
Namespace
  1 metadata ObjectMeta
  2 spec NamespaceSpec
  3 status NamespaceStatus
NamespaceSpec
  1 finalizers []string
NamespaceStatus
  1 phase string
  2 conditions []NamespaceCondition
NamespaceCondition
  1 type string keep
  2 status string keep
  4 lastTransitionTime Time
  5 reason string
  6 message string
ServiceAccount
  1 metadata ObjectMeta
  2 secrets []ObjectReference
  3 imagePullSecrets []LocalObjectReference
  4 automountServiceAccountToken bool keep
ObjectReference
  1 kind string
  2 namespace string
  3 name string
  4 uid string
  5 apiVersion string
  6 resourceVersion string
  7 fieldPath string
LocalObjectReference
  1 name string
Service
  1 metadata ObjectMeta
  2 spec ServiceSpec
  3 status ServiceStatus
ServiceSpec
  1 ports []ServicePort
  2 selector map<string,string>
  3 clusterIP string
  4 type string
  5 externalIPs []string
  7 sessionAffinity string
  8 loadBalancerIP string
  9 loadBalancerSourceRanges []string
  10 externalName string
  11 externalTrafficPolicy string
  12 healthCheckNodePort int32
  13 publishNotReadyAddresses bool
  14 sessionAffinityConfig SessionAffinityConfig
  17 ipFamilyPolicy string keep
  18 clusterIPs []string
  19 ipFamilies []string
  20 allocateLoadBalancerNodePorts bool keep
  21 loadBalancerClass string keep
  22 internalTrafficPolicy string keep
  23 trafficDistribution string keep
ServicePort
  1 name string
  2 protocol string
  3 port int32 keep
  4 targetPort IntOrString
  5 nodePort int32
  6 appProtocol string keep
SessionAffinityConfig
  1 clientIP ClientIPConfig
ClientIPConfig
  1 timeoutSeconds int32 keep
ServiceStatus
  1 loadBalancer LoadBalancerStatus
  2 conditions []Condition
LoadBalancerStatus
  1 ingress []LoadBalancerIngress
LoadBalancerIngress
  1 ip string
  2 hostname string
  3 ipMode string keep
  4 ports []PortStatus
PortStatus
  1 port int32 keep
  2 protocol string keep
  3 error string keep
Pod
  1 metadata ObjectMeta
  2 spec PodSpec
  3 status PodStatus
PodStatus
  1 phase string
  2 conditions []PodCondition
  3 message string
  4 reason string
  5 hostIP string
  6 podIP string
  7 startTime Time keep
  9 qosClass string
  11 nominatedNodeName string
  12 podIPs []PodIP
  16 hostIPs []HostIP
  17 observedGeneration int64
PodCondition
  1 type string keep
  2 status string keep
  3 lastProbeTime Time
  4 lastTransitionTime Time
  5 reason string
  6 message string
  7 observedGeneration int64
PodIP
  1 ip string keep
HostIP
  1 ip string keep
PodTemplateSpec
  1 metadata ObjectMeta
  2 spec PodSpec
PodSpec
  1 volumes []Volume
  2 containers []Container
  3 restartPolicy string
  4 terminationGracePeriodSeconds int64 keep
  5 activeDeadlineSeconds int64 keep
  6 dnsPolicy string
  7 nodeSelector map<string,string>
  8 serviceAccountName string
  9 serviceAccount string
  10 nodeName string
  11 hostNetwork bool
  12 hostPID bool
  13 hostIPC bool
  14 securityContext PodSecurityContext
  15 imagePullSecrets []LocalObjectReference
  16 hostname string
  17 subdomain string
  19 schedulerName string
  20 initContainers []Container
  21 automountServiceAccountToken bool keep
  22 tolerations []Toleration
  23 hostAliases []HostAlias
  24 priorityClassName string
  25 priority int32 keep
  26 dnsConfig PodDNSConfig
  27 shareProcessNamespace bool keep
  28 readinessGates []PodReadinessGate
  29 runtimeClassName string keep
  30 enableServiceLinks bool keep
  31 preemptionPolicy string keep
  32 overhead map<string,Quantity>
  35 setHostnameAsFQDN bool keep
  36 os PodOS
  37 hostUsers bool keep
  38 schedulingGates []PodSchedulingGate
  40 resources ResourceRequirements
Container
  1 name string keep
  2 image string
  3 command []string
  4 args []string
  5 workingDir string
  6 ports []ContainerPort
  7 env []EnvVar
  8 resources ResourceRequirements
  9 volumeMounts []VolumeMount
  10 livenessProbe Probe
  11 readinessProbe Probe
  12 lifecycle Lifecycle
  13 terminationMessagePath string
  14 imagePullPolicy string
  15 securityContext SecurityContext
  16 stdin bool
  17 stdinOnce bool
  18 tty bool
  19 envFrom []EnvFromSource
  20 terminationMessagePolicy string
  21 volumeDevices []VolumeDevice
  22 startupProbe Probe
  23 resizePolicy []ContainerResizePolicy
  24 restartPolicy string keep
ContainerPort
  1 name string
  2 hostPort int32
  3 containerPort int32 keep
  4 protocol string
  5 hostIP string
EnvVar
  1 name string keep
  2 value string
  3 valueFrom EnvVarSource
EnvVarSource
  1 fieldRef ObjectFieldSelector
  2 resourceFieldRef ResourceFieldSelector
  3 configMapKeyRef ConfigMapKeySelector
  4 secretKeyRef SecretKeySelector
ObjectFieldSelector
  1 apiVersion string
  2 fieldPath string keep
ResourceFieldSelector
  1 containerName string
  2 resource string keep
  3 divisor Quantity
ConfigMapKeySelector
  1 localObjectReference LocalObjectReference inline
  2 key string keep
  3 optional bool keep
SecretKeySelector
  1 localObjectReference LocalObjectReference inline
  2 key string keep
  3 optional bool keep
EnvFromSource
  1 prefix string
  2 configMapRef ConfigMapEnvSource
  3 secretRef SecretEnvSource
ConfigMapEnvSource
  1 localObjectReference LocalObjectReference inline
  2 optional bool keep
SecretEnvSource
  1 localObjectReference LocalObjectReference inline
  2 optional bool keep
ResourceRequirements
  1 limits map<string,Quantity>
  2 requests map<string,Quantity>
  3 claims []ResourceClaim
ResourceClaim
  1 name string keep
  2 request string
ContainerResizePolicy
  1 resourceName string keep
  2 restartPolicy string keep
VolumeMount
  1 name string keep
  2 readOnly bool
  3 mountPath string keep
  4 subPath string
  5 mountPropagation string keep
  6 subPathExpr string
  7 recursiveReadOnly string keep
VolumeDevice
  1 name string keep
  2 devicePath string keep
Volume
  1 name string keep
  2 volumeSource VolumeSource inline
VolumeSource
  1 hostPath HostPathVolumeSource
  2 emptyDir EmptyDirVolumeSource
  6 secret SecretVolumeSource
  10 persistentVolumeClaim PersistentVolumeClaimVolumeSource
  16 downwardAPI DownwardAPIVolumeSource
  19 configMap ConfigMapVolumeSource
  26 projected ProjectedVolumeSource
HostPathVolumeSource
  1 path string keep
  2 type string keep
EmptyDirVolumeSource
  1 medium string
  2 sizeLimit Quantity
SecretVolumeSource
  1 secretName string
  2 items []KeyToPath
  3 defaultMode int32 keep
  4 optional bool keep
ConfigMapVolumeSource
  1 localObjectReference LocalObjectReference inline
  2 items []KeyToPath
  3 defaultMode int32 keep
  4 optional bool keep
KeyToPath
  1 key string keep
  2 path string keep
  3 mode int32 keep
PersistentVolumeClaimVolumeSource
  1 claimName string keep
  2 readOnly bool
DownwardAPIVolumeSource
  1 items []DownwardAPIVolumeFile
  2 defaultMode int32 keep
DownwardAPIVolumeFile
  1 path string keep
  2 fieldRef ObjectFieldSelector
  3 resourceFieldRef ResourceFieldSelector
  4 mode int32 keep
ProjectedVolumeSource
  1 sources []VolumeProjection
  2 defaultMode int32 keep
VolumeProjection
  1 secret SecretProjection
  2 downwardAPI DownwardAPIProjection
  3 configMap ConfigMapProjection
  4 serviceAccountToken ServiceAccountTokenProjection
SecretProjection
  1 localObjectReference LocalObjectReference inline
  2 items []KeyToPath
  4 optional bool keep
ConfigMapProjection
  1 localObjectReference LocalObjectReference inline
  2 items []KeyToPath
  4 optional bool keep
DownwardAPIProjection
  1 items []DownwardAPIVolumeFile
ServiceAccountTokenProjection
  1 audience string
  2 expirationSeconds int64 keep
  3 path string keep
Probe
  1 handler ProbeHandler inline
  2 initialDelaySeconds int32
  3 timeoutSeconds int32
  4 periodSeconds int32
  5 successThreshold int32
  6 failureThreshold int32
  7 terminationGracePeriodSeconds int64 keep
ProbeHandler
  1 exec ExecAction
  2 httpGet HTTPGetAction
  3 tcpSocket TCPSocketAction
  4 grpc GRPCAction
ExecAction
  1 command []string
HTTPGetAction
  1 path string
  2 port IntOrString
  3 host string
  4 scheme string
  5 httpHeaders []HTTPHeader
HTTPHeader
  1 name string keep
  2 value string keep
TCPSocketAction
  1 port IntOrString
  2 host string
GRPCAction
  1 port int32 keep
  2 service string keep
Lifecycle
  1 postStart LifecycleHandler
  2 preStop LifecycleHandler
  3 stopSignal string keep
LifecycleHandler
  1 exec ExecAction
  2 httpGet HTTPGetAction
  3 tcpSocket TCPSocketAction
  4 sleep SleepAction
SleepAction
  1 seconds int64 keep
SecurityContext
  1 capabilities Capabilities
  2 privileged bool keep
  3 seLinuxOptions SELinuxOptions
  4 runAsUser int64 keep
  5 runAsNonRoot bool keep
  6 readOnlyRootFilesystem bool keep
  7 allowPrivilegeEscalation bool keep
  8 runAsGroup int64 keep
  9 procMount string keep
  11 seccompProfile SeccompProfile
  12 appArmorProfile AppArmorProfile
Capabilities
  1 add []string
  2 drop []string
SELinuxOptions
  1 user string
  2 role string
  3 type string
  4 level string
SeccompProfile
  1 type string keep
  2 localhostProfile string keep
AppArmorProfile
  1 type string keep
  2 localhostProfile string keep
PodSecurityContext
  1 seLinuxOptions SELinuxOptions
  2 runAsUser int64 keep
  3 runAsNonRoot bool keep
  4 supplementalGroups []int64
  5 fsGroup int64 keep
  6 runAsGroup int64 keep
  7 sysctls []Sysctl
  9 fsGroupChangePolicy string keep
  10 seccompProfile SeccompProfile
  11 appArmorProfile AppArmorProfile
  12 supplementalGroupsPolicy string keep
  13 seLinuxChangePolicy string keep
Sysctl
  1 name string keep
  2 value string keep
Toleration
  1 key string
  2 operator string
  3 value string
  4 effect string
  5 tolerationSeconds int64 keep
HostAlias
  1 ip string keep
  2 hostnames []string
PodDNSConfig
  1 nameservers []string
  2 searches []string
  3 options []PodDNSConfigOption
PodDNSConfigOption
  1 name string
  2 value string keep
PodReadinessGate
  1 conditionType string keep
PodOS
  1 name string keep
PodSchedulingGate
  1 name string keep
"""

_APPS = """
Deployment
  1 metadata ObjectMeta
  2 spec DeploymentSpec
  3 status DeploymentStatus
DeploymentSpec
  1 replicas int32 keep
  2 selector LabelSelector
  3 template PodTemplateSpec
  4 strategy DeploymentStrategy
  5 minReadySeconds int32
  6 revisionHistoryLimit int32 keep
  7 paused bool
  9 progressDeadlineSeconds int32 keep
DeploymentStrategy
  1 type string
  2 rollingUpdate RollingUpdateDeployment
RollingUpdateDeployment
  1 maxUnavailable IntOrString
  2 maxSurge IntOrString
DeploymentStatus
  1 observedGeneration int64
  2 replicas int32
  3 updatedReplicas int32
  4 availableReplicas int32
  5 unavailableReplicas int32
  6 conditions []DeploymentCondition
  7 readyReplicas int32
  8 collisionCount int32 keep
  9 terminatingReplicas int32 keep
DeploymentCondition
  1 type string keep
  2 status string keep
  4 reason string
  5 message string
  6 lastUpdateTime Time
  7 lastTransitionTime Time
DaemonSet
  1 metadata ObjectMeta
  2 spec DaemonSetSpec
  3 status DaemonSetStatus
DaemonSetSpec
  1 selector LabelSelector
  2 template PodTemplateSpec
  3 updateStrategy DaemonSetUpdateStrategy
  4 minReadySeconds int32
  6 revisionHistoryLimit int32 keep
DaemonSetUpdateStrategy
  1 type string
  2 rollingUpdate RollingUpdateDaemonSet
RollingUpdateDaemonSet
  1 maxUnavailable IntOrString
  2 maxSurge IntOrString
DaemonSetStatus
  1 currentNumberScheduled int32 keep
  2 numberMisscheduled int32 keep
  3 desiredNumberScheduled int32 keep
  4 numberReady int32 keep
  5 observedGeneration int64
  6 updatedNumberScheduled int32
  7 numberAvailable int32
  8 numberUnavailable int32
  9 collisionCount int32 keep
  10 conditions []DaemonSetCondition
DaemonSetCondition
  1 type string keep
  2 status string keep
  3 lastTransitionTime Time
  4 reason string
  5 message string
"""

_BATCH = """
Job
  1 metadata ObjectMeta
  2 spec JobSpec
  3 status JobStatus
JobSpec
  1 parallelism int32 keep
  2 completions int32 keep
  3 activeDeadlineSeconds int64 keep
  4 selector LabelSelector
  5 manualSelector bool keep
  6 template PodTemplateSpec
  7 backoffLimit int32 keep
  8 ttlSecondsAfterFinished int32 keep
  9 completionMode string keep
  10 suspend bool keep
  12 backoffLimitPerIndex int32 keep
  13 maxFailedIndexes int32 keep
  14 podReplacementPolicy string keep
  15 managedBy string keep
JobStatus
  1 conditions []JobCondition
  2 startTime Time keep
  3 completionTime Time keep
  4 active int32
  5 succeeded int32
  6 failed int32
  7 completedIndexes string
  8 uncountedTerminatedPods UncountedTerminatedPods
  9 ready int32 keep
  10 failedIndexes string keep
  11 terminating int32 keep
JobCondition
  1 type string keep
  2 status string keep
  3 lastProbeTime Time
  4 lastTransitionTime Time
  5 reason string
  6 message string
UncountedTerminatedPods
  1 succeeded []string
  2 failed []string
"""

_RBAC = """
Role
  1 metadata ObjectMeta
  2 rules []PolicyRule
ClusterRole
  1 metadata ObjectMeta
  2 rules []PolicyRule
  3 aggregationRule AggregationRule
PolicyRule
  1 verbs []string
  2 apiGroups []string
  3 resources []string
  4 resourceNames []string
  5 nonResourceURLs []string
AggregationRule
  1 clusterRoleSelectors []LabelSelector
RoleBinding
  1 metadata ObjectMeta
  2 subjects []Subject
  3 roleRef RoleRef
ClusterRoleBinding
  1 metadata ObjectMeta
  2 subjects []Subject
  3 roleRef RoleRef
Subject
  1 kind string keep
  2 apiGroup string
  3 name string keep
  4 namespace string
RoleRef
  1 apiGroup string keep
  2 kind string keep
  3 name string keep
"""

_POLICY = """
PodDisruptionBudget
  1 metadata ObjectMeta
  2 spec PodDisruptionBudgetSpec
  3 status PodDisruptionBudgetStatus
PodDisruptionBudgetSpec
  1 minAvailable IntOrString
  2 selector LabelSelector
  3 maxUnavailable IntOrString
  4 unhealthyPodEvictionPolicy string keep
PodDisruptionBudgetStatus
  1 observedGeneration int64
  2 disruptedPods map<string,Time>
  3 disruptionsAllowed int32 keep
  4 currentHealthy int32 keep
  5 desiredHealthy int32 keep
  6 expectedPods int32 keep
  7 conditions []Condition
"""

# (apiVersion, kind) of a top-level object -> its message. DeleteOptions is registered in every group version.
KINDS: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "Namespace"): "Namespace",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "Service"): "Service",
    ("v1", "Pod"): "Pod",
    ("apps/v1", "Deployment"): "Deployment",
    ("apps/v1", "DaemonSet"): "DaemonSet",
    ("batch/v1", "Job"): "Job",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "ClusterRoleBinding",
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
}
ANY_VERSION_KINDS = {"DeleteOptions": "DeleteOptions"}


@dataclass(frozen=True)
class Field:
    number: int
    json: str
    type: str  # a scalar, a WELL_KNOWN name, a message name, or "map" (then map_value is set)
    repeated: bool = False
    keep: bool = False
    inline: bool = False
    map_value: str | None = None


def _parse(text: str) -> dict[str, dict[int, Field]]:
    out: dict[str, dict[int, Field]] = {}
    current: dict[int, Field] | None = None
    for raw in text.strip().splitlines():
        if not raw.startswith(" "):
            current = out.setdefault(raw.strip(), {})
            continue
        words = raw.split()
        number, name, ftype, flags = int(words[0]), words[1], words[2], set(words[3:])
        if flags - {"keep", "inline"}:
            raise ValueError(f"proto_tables: unknown flag in {raw!r}")
        repeated = ftype.startswith("[]")
        ftype = ftype.removeprefix("[]")
        map_value = None
        if ftype.startswith("map<string,") and ftype.endswith(">"):
            map_value, ftype = ftype[len("map<string,") : -1], "map"
            if map_value not in MAP_VALUES:
                raise ValueError(f"proto_tables: unsupported map value in {raw!r}")
        if current is None or number in current:
            raise ValueError(f"proto_tables: misplaced or duplicate field in {raw!r}")
        current[number] = Field(number, name, ftype, repeated, "keep" in flags, "inline" in flags, map_value)
    return out


MESSAGES: dict[str, dict[int, Field]] = {}
for _block in (_META, _CORE, _APPS, _BATCH, _RBAC, _POLICY):
    for _name, _fields in _parse(_block).items():
        if _name in MESSAGES:
            raise ValueError(f"proto_tables: message {_name} defined twice")
        MESSAGES[_name] = _fields


def _check() -> None:
    for name, fields in MESSAGES.items():
        for f in fields.values():
            if f.type in SCALARS or f.type in WELL_KNOWN or f.type == "map":
                if f.inline:
                    raise ValueError(f"proto_tables: {name}.{f.json} is inline but not a message")
                continue
            if f.type not in MESSAGES:
                raise ValueError(f"proto_tables: {name}.{f.json} refers to unknown message {f.type}")
    for message in (*KINDS.values(), *ANY_VERSION_KINDS.values()):
        if message not in MESSAGES:
            raise ValueError(f"proto_tables: kind message {message} has no table")


_check()

package inject

// Pod annotations read (and one written) by the injector. Each is declared
// once here; docs/kubernetes.md carries the same table and a test keeps the
// two in step.
const (
	// AnnotationInject set to "true" asks for the fieldseal sidecar; "false"
	// or absence leaves the pod alone. Any other value denies the pod.
	AnnotationInject = "fieldseal.io/inject"

	// AnnotationStatus is written by the injector with the value
	// StatusInjected; a pod that already carries it is never patched again.
	AnnotationStatus = "fieldseal.io/status"

	// AnnotationConfigMap names the ConfigMap (in the pod's namespace) whose
	// key config.yaml is the fieldseal config and field map; it is mounted
	// read-only at /etc/fieldseal. Default: the chart's fieldMap.name.
	AnnotationConfigMap = "fieldseal.io/config-map"

	// AnnotationListenPort is the port the sidecar listens on for clients
	// (inbound) or for the app (outbound). It must not be used by an app
	// container. Default: the chart's injector.defaults.listenPort.
	AnnotationListenPort = "fieldseal.io/listen-port"

	// AnnotationUpstreamPort is the port on 127.0.0.1 the sidecar forwards
	// to: the app's own port for the inbound topology. Default: the first
	// TCP port declared by the pod's first container, else the chart's
	// injector.defaults.upstreamPort.
	AnnotationUpstreamPort = "fieldseal.io/upstream-port"

	// AnnotationAdminPort is the sidecar's admin port (/healthz, /readyz,
	// /metrics), used by its probes. It must not be used by an app
	// container. Default: the chart's injector.defaults.adminPort.
	AnnotationAdminPort = "fieldseal.io/admin-port"

	// AnnotationTopology is "inbound" (default: clients -> sidecar -> app;
	// the sidecar listens on all interfaces and forwards to the app on
	// 127.0.0.1:upstream-port) or "outbound" (app -> sidecar -> store; the
	// sidecar listens on 127.0.0.1 only and forwards to the config's
	// upstream, so fieldseal.io/upstream-port does not apply).
	AnnotationTopology = "fieldseal.io/topology"

	// AnnotationKeyProvider selects the key provider, "local" or "aws"; it
	// decides the environment and volumes the sidecar gets and is passed to
	// serve as --key-provider. Default: the chart's keys.provider.
	AnnotationKeyProvider = "fieldseal.io/key-provider"

	// AnnotationCPURequest overrides the sidecar's CPU request (a Kubernetes
	// quantity such as "50m").
	AnnotationCPURequest = "fieldseal.io/cpu-request"

	// AnnotationMemoryRequest overrides the sidecar's memory request (a
	// Kubernetes quantity such as "64Mi").
	AnnotationMemoryRequest = "fieldseal.io/memory-request"

	// AnnotationCPULimit overrides the sidecar's CPU limit.
	AnnotationCPULimit = "fieldseal.io/cpu-limit"

	// AnnotationMemoryLimit overrides the sidecar's memory limit.
	AnnotationMemoryLimit = "fieldseal.io/memory-limit"

	// AnnotationTLSSecret names a kubernetes.io/tls Secret (in the pod's
	// namespace) whose certificate the sidecar serves: on the listeners the
	// chart's sidecar.tls.listeners name (default: the proxy listener and
	// the admin port, whose probes then use HTTPS). Default: the chart's
	// sidecar.tls.secretName; neither: plain HTTP.
	AnnotationTLSSecret = "fieldseal.io/tls-secret"

	// AnnotationImage overrides the sidecar image. Because the image decides
	// what sees plaintext, it is honoured only when the value is listed in
	// the chart's injector.allowedImages; otherwise the pod is denied.
	AnnotationImage = "fieldseal.io/image"
)

// Topologies accepted by AnnotationTopology.
const (
	TopologyInbound  = "inbound"
	TopologyOutbound = "outbound"
)

// StatusInjected is the value of AnnotationStatus on an injected pod.
const StatusInjected = "injected"

// ContainerName is the name of the injected container; a pod that already has
// a container by this name is treated as injected.
const ContainerName = "fieldseal"

// Paths and names inside the injected pod.
const (
	// ConfigMountPath is where the field-map ConfigMap is mounted.
	ConfigMountPath = "/etc/fieldseal"
	// ConfigFileKey is the ConfigMap key holding the fieldseal config.
	ConfigFileKey = "config.yaml"
	// KeysMountPath is where the local provider's key-ring Secret is mounted.
	KeysMountPath = "/var/run/fieldseal/keys"
	// TLSMountPath is where the TLS Secret is mounted (tls.crt, tls.key).
	TLSMountPath = "/var/run/fieldseal/tls"
	// ConfigVolumeName, KeysVolumeName, MasterKeyVolumeName and
	// TLSVolumeName name the volumes the injector adds.
	ConfigVolumeName    = "fieldseal-config"
	KeysVolumeName      = "fieldseal-keys"
	MasterKeyVolumeName = "fieldseal-master-key"
	TLSVolumeName       = "fieldseal-tls"
	// ListenPortName and AdminPortName name the sidecar's container ports
	// (a Service can target "fieldseal" by name).
	ListenPortName = "fieldseal"
	AdminPortName  = "fieldseal-admin"
)

// Environment variables set on the sidecar.
const (
	// EnvMasterKey carries the local provider's master key (from its own
	// Secret, never the ring's) unless the master key is read from a file;
	// it is the config's default keys.local.master_key_env.
	EnvMasterKey = "FIELDSEAL_MASTER_KEY"
	// EnvAWSRegion is read by the AWS SDK's default configuration.
	EnvAWSRegion = "AWS_REGION"
)

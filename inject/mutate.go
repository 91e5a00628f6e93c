package inject

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Outcome is what the injector did with one pod.
type Outcome string

// Outcomes, also used as the metric label.
const (
	OutcomeInjected Outcome = "injected"
	OutcomeSkipped  Outcome = "skipped"
	OutcomeDenied   Outcome = "denied"
	OutcomeInvalid  Outcome = "invalid" // the AdmissionReview itself was unusable
)

// Decision is the result of [Config.Decide] for a pod that is not denied.
type Decision struct {
	Outcome Outcome
	// Reason says why a pod was skipped (empty when injected).
	Reason string
	// Pod is the mutated copy when Outcome is OutcomeInjected.
	Pod *corev1.Pod
}

// AnnotationError is a bad annotation value; the pod is denied with its text.
type AnnotationError struct {
	Annotation string
	Value      string
	Problem    string
}

// Error names the annotation, its value and the problem; it is the denial
// message the user sees from kubectl.
func (e *AnnotationError) Error() string {
	return fmt.Sprintf("annotation %s: %q %s", e.Annotation, e.Value, e.Problem)
}

// ErrConflict marks a pod whose spec clashes with what the injector would add
// (a volume or port name already used).
var ErrConflict = errors.New("pod conflicts with the fieldseal sidecar")

// Decide inspects pod (in namespace ns; pod.Namespace is often empty at
// admission) and returns the mutated copy, a skip, or an error that denies
// the pod (*AnnotationError or ErrConflict, possibly several joined). The
// input pod is never modified.
func (c Config) Decide(pod *corev1.Pod, ns string) (Decision, error) {
	if slices.Contains(c.SkipNamespaces, ns) {
		return Decision{Outcome: OutcomeSkipped, Reason: "namespace " + ns + " is skipped"}, nil
	}
	ann := pod.Annotations
	raw, ok := ann[AnnotationInject]
	if !ok {
		return Decision{Outcome: OutcomeSkipped, Reason: "no " + AnnotationInject + " annotation"}, nil
	}
	want, err := strconv.ParseBool(raw)
	if err != nil {
		return Decision{}, &AnnotationError{AnnotationInject, raw, `is not a boolean: want "true" or "false"`}
	}
	if !want {
		return Decision{Outcome: OutcomeSkipped, Reason: AnnotationInject + " is false"}, nil
	}
	if ann[AnnotationStatus] == StatusInjected {
		return Decision{Outcome: OutcomeSkipped, Reason: "already injected (" + AnnotationStatus + ")"}, nil
	}
	if hasContainer(pod, ContainerName) {
		return Decision{Outcome: OutcomeSkipped, Reason: "already has a container named " + ContainerName}, nil
	}

	s, err := c.settings(pod)
	if err != nil {
		return Decision{}, err
	}
	out := pod.DeepCopy()
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[AnnotationStatus] = StatusInjected
	out.Spec.Volumes = append(out.Spec.Volumes, s.volumes()...)
	out.Spec.Containers = append(out.Spec.Containers, c.container(s))
	return Decision{Outcome: OutcomeInjected, Pod: out}, nil
}

// settings are the per-pod values after annotations and defaults.
type settings struct {
	image                   string
	configMap               string
	listen, upstream, admin int32
	provider                string
	localSecret             string
	masterKey               MasterKeyConfig
	outbound                bool
	resources               corev1.ResourceRequirements
	// tlsSecret is the TLS Secret ("" = plain HTTP); tlsProxy and
	// tlsAdmin say which listeners serve it.
	tlsSecret          string
	tlsProxy, tlsAdmin bool
}

// settings reads every annotation and reports every problem at once.
func (c Config) settings(pod *corev1.Pod) (settings, error) {
	ann := pod.Annotations
	var errs []error
	s := settings{
		image:       c.Image,
		configMap:   c.ConfigMap,
		provider:    c.Keys.Provider,
		localSecret: c.Keys.LocalSecret,
		masterKey:   c.Keys.MasterKey,
		resources:   *c.Resources.DeepCopy(),
		tlsSecret:   c.TLS.Secret,
	}
	if v, ok := ann[AnnotationTLSSecret]; ok {
		if v == "" || len(v) > 253 {
			errs = append(errs, &AnnotationError{AnnotationTLSSecret, v, "is not a Secret name"})
		}
		s.tlsSecret = v
	}
	if s.tlsSecret != "" {
		s.tlsProxy = slices.Contains(c.TLS.Listeners, TLSListenerProxy)
		s.tlsAdmin = slices.Contains(c.TLS.Listeners, TLSListenerAdmin)
	}
	if v, ok := ann[AnnotationImage]; ok {
		if slices.Contains(c.AllowedImages, v) {
			s.image = v
		} else {
			errs = append(errs, &AnnotationError{AnnotationImage, v, "is not an allowed sidecar image (injector.allowedImages)"})
		}
	}
	if v, ok := ann[AnnotationConfigMap]; ok {
		if v == "" || len(v) > 253 {
			errs = append(errs, &AnnotationError{AnnotationConfigMap, v, "is not a ConfigMap name"})
		}
		s.configMap = v
	}
	if v, ok := ann[AnnotationTopology]; ok {
		switch v {
		case TopologyInbound:
		case TopologyOutbound:
			s.outbound = true
			if _, set := ann[AnnotationUpstreamPort]; set {
				errs = append(errs, &AnnotationError{AnnotationUpstreamPort, ann[AnnotationUpstreamPort], "does not apply to the outbound topology (the config's upstream is the store)"})
			}
		default:
			errs = append(errs, &AnnotationError{AnnotationTopology, v, `is not a topology: want "inbound" or "outbound"`})
		}
	}
	if v, ok := ann[AnnotationKeyProvider]; ok {
		if v != ProviderLocal && v != ProviderAWS {
			errs = append(errs, &AnnotationError{AnnotationKeyProvider, v, `is not a key provider: want "local" or "aws"`})
		}
		s.provider = v
	}

	if s.provider == ProviderLocal && s.masterKey.File != "" && s.masterKey.Volume == nil &&
		(pod.Spec.SecurityContext == nil || pod.Spec.SecurityContext.FSGroup == nil) {
		// Without an fsGroup the kubelet leaves the Secret's 0400 file to
		// root, and the non-root sidecar could not read it: refuse here
		// rather than admit a pod that crash-loops.
		errs = append(errs, fmt.Errorf("%w: the master key file %s comes from Secret %q with mode 0400, which a non-root sidecar reads only through the pod's securityContext.fsGroup; set one", ErrConflict, s.masterKey.File, s.masterKey.Secret))
	}

	appPorts := map[int32]string{} // port -> container using it
	appPortNames := map[string]bool{}
	for _, ctr := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		for _, p := range ctr.Ports {
			appPorts[p.ContainerPort] = ctr.Name
			if p.Name != "" {
				appPortNames[p.Name] = true
			}
		}
	}
	port := func(name string, def int32) int32 {
		v, ok := ann[name]
		if !ok {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, &AnnotationError{name, v, "is not a port number (1-65535)"})
			return def
		}
		return int32(n)
	}
	s.listen = port(AnnotationListenPort, c.ListenPort)
	s.admin = port(AnnotationAdminPort, c.AdminPort)
	s.upstream = port(AnnotationUpstreamPort, defaultUpstream(pod, c.UpstreamPort))
	for _, p := range []struct {
		ann  string
		port int32
	}{{AnnotationListenPort, s.listen}, {AnnotationAdminPort, s.admin}} {
		if ctr, used := appPorts[p.port]; used {
			errs = append(errs, &AnnotationError{p.ann, strconv.Itoa(int(p.port)), "clashes with a port of container " + strconv.Quote(ctr)})
		}
	}
	if s.listen == s.admin || (!s.outbound && (s.listen == s.upstream || s.admin == s.upstream)) {
		errs = append(errs, &AnnotationError{AnnotationListenPort, strconv.Itoa(int(s.listen)),
			fmt.Sprintf("listen, upstream (%d) and admin (%d) ports must all differ", s.upstream, s.admin)})
	}

	for _, q := range []struct {
		ann  string
		list *corev1.ResourceList
		name corev1.ResourceName
	}{
		{AnnotationCPURequest, &s.resources.Requests, corev1.ResourceCPU},
		{AnnotationMemoryRequest, &s.resources.Requests, corev1.ResourceMemory},
		{AnnotationCPULimit, &s.resources.Limits, corev1.ResourceCPU},
		{AnnotationMemoryLimit, &s.resources.Limits, corev1.ResourceMemory},
	} {
		v, ok := ann[q.ann]
		if !ok {
			continue
		}
		qty, err := resource.ParseQuantity(v)
		if err != nil || qty.Sign() <= 0 {
			errs = append(errs, &AnnotationError{q.ann, v, "is not a positive resource quantity (e.g. 100m, 64Mi)"})
			continue
		}
		if *q.list == nil {
			*q.list = corev1.ResourceList{}
		}
		(*q.list)[q.name] = qty
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := s.resources.Requests[name]
		lim, okLim := s.resources.Limits[name]
		if okReq && okLim && req.Cmp(lim) > 0 {
			errs = append(errs, fmt.Errorf("%w: %s request %s exceeds its limit %s", ErrConflict, name, req.String(), lim.String()))
		}
	}

	for _, v := range s.volumes() {
		if hasVolume(pod, v.Name) {
			errs = append(errs, fmt.Errorf("%w: volume %q already exists", ErrConflict, v.Name))
		}
	}
	for _, n := range []string{ListenPortName, AdminPortName} {
		if appPortNames[n] {
			errs = append(errs, fmt.Errorf("%w: port name %q already used", ErrConflict, n))
		}
	}
	return s, errors.Join(errs...)
}

// defaultUpstream is the first TCP port of the pod's first container: in the
// inbound topology that is the app the sidecar fronts.
func defaultUpstream(pod *corev1.Pod, def int32) int32 {
	if len(pod.Spec.Containers) == 0 {
		return def
	}
	for _, p := range pod.Spec.Containers[0].Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			return p.ContainerPort
		}
	}
	return def
}

func (s settings) volumes() []corev1.Volume {
	vols := []corev1.Volume{{
		Name: ConfigVolumeName,
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: s.configMap},
		}},
	}}
	if s.provider == ProviderLocal {
		vols = append(vols, corev1.Volume{
			Name: KeysVolumeName,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: s.localSecret,
				Items:      []corev1.KeyToPath{{Key: LocalSecretRingKey, Path: LocalSecretRingKey}},
			}},
		})
		if mk := s.masterKey; mk.File != "" {
			src := mk.Volume
			if src == nil {
				// 0400: the sidecar refuses a master key file open to
				// group or others; with the pod's fsGroup the kubelet
				// makes it 0440 root:fsGroup, which it accepts.
				mode := int32(0o400)
				src = &corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName:  mk.Secret,
					Items:       []corev1.KeyToPath{{Key: mk.Key, Path: path.Base(mk.File)}},
					DefaultMode: &mode,
				}}
			}
			vols = append(vols, corev1.Volume{Name: MasterKeyVolumeName, VolumeSource: *src.DeepCopy()})
		}
	}
	if s.tlsSecret != "" {
		// 0444: the private key is readable inside the sidecar's own
		// container, where the sidecar is the only process; other
		// containers see the file only if they mount the volume.
		mode := int32(0o444)
		vols = append(vols, corev1.Volume{
			Name: TLSVolumeName,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: s.tlsSecret,
				Items: []corev1.KeyToPath{
					{Key: TLSSecretCertKey, Path: TLSSecretCertKey},
					{Key: TLSSecretKeyKey, Path: TLSSecretKeyKey},
				},
				DefaultMode: &mode,
			}},
		})
	}
	return vols
}

// args are the sidecar's serve arguments. Inbound, the sidecar is the pod's
// entry point and forwards to the app on loopback; outbound, only the app in
// the pod may reach it (loopback listener) and the upstream (the store) comes
// from the config file.
func (s settings) args() []string {
	args := []string{"serve", "--config", ConfigMountPath + "/" + ConfigFileKey}
	if s.outbound {
		args = append(args, "--listen", fmt.Sprintf("127.0.0.1:%d", s.listen))
	} else {
		args = append(args,
			"--listen", fmt.Sprintf("0.0.0.0:%d", s.listen),
			"--upstream", fmt.Sprintf("http://127.0.0.1:%d", s.upstream))
	}
	args = append(args,
		"--admin-listen", fmt.Sprintf("0.0.0.0:%d", s.admin),
		"--key-provider", s.provider)
	cert, key := TLSMountPath+"/"+TLSSecretCertKey, TLSMountPath+"/"+TLSSecretKeyKey
	if s.tlsProxy {
		args = append(args, "--tls-cert-file", cert, "--tls-key-file", key)
	}
	if s.tlsAdmin {
		args = append(args, "--admin-tls-cert-file", cert, "--admin-tls-key-file", key)
	}
	return args
}

func (c Config) container(s settings) corev1.Container {
	probeScheme := corev1.URISchemeHTTP
	if s.tlsAdmin {
		probeScheme = corev1.URISchemeHTTPS
	}
	ctr := corev1.Container{
		Name:            ContainerName,
		Image:           s.image,
		ImagePullPolicy: c.ImagePullPolicy,
		Args:            s.args(),
		Ports: []corev1.ContainerPort{
			{Name: ListenPortName, ContainerPort: s.listen, Protocol: corev1.ProtocolTCP},
			{Name: AdminPortName, ContainerPort: s.admin, Protocol: corev1.ProtocolTCP},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: ConfigVolumeName, MountPath: ConfigMountPath, ReadOnly: true}},
		Resources:    s.resources,
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(s.admin), Scheme: probeScheme}},
			PeriodSeconds:    5,
			FailureThreshold: 3,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(s.admin), Scheme: probeScheme}},
			PeriodSeconds:    10,
			FailureThreshold: 3,
		},
		SecurityContext: SecurityContext(),
	}
	switch s.provider {
	case ProviderLocal:
		// The ring comes from its Secret (the config's keys.local.ring_file
		// must be KeysMountPath/ring.json), the master key from another:
		// a file (the config's keys.local.master_key_file is
		// masterKey.File) or the environment.
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: KeysVolumeName, MountPath: KeysMountPath, ReadOnly: true})
		if mk := s.masterKey; mk.File != "" {
			ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: MasterKeyVolumeName, MountPath: path.Dir(mk.File), ReadOnly: true})
		} else {
			ctr.Env = append(ctr.Env, corev1.EnvVar{Name: EnvMasterKey, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: mk.Secret},
					Key:                  mk.Key,
				},
			}})
		}
	case ProviderAWS:
		if c.Keys.AWSRegion != "" {
			ctr.Env = append(ctr.Env, corev1.EnvVar{Name: EnvAWSRegion, Value: c.Keys.AWSRegion})
		}
	}
	if s.tlsSecret != "" {
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: TLSVolumeName, MountPath: TLSMountPath, ReadOnly: true})
	}
	return ctr
}

// SecurityContext is the sidecar's container security context: non-root
// (distroless nonroot, uid 65532), read-only root filesystem, no privilege
// escalation, no capabilities, RuntimeDefault seccomp.
func SecurityContext() *corev1.SecurityContext {
	t, f := true, false
	uid := int64(65532)
	return &corev1.SecurityContext{
		RunAsNonRoot:             &t,
		RunAsUser:                &uid,
		RunAsGroup:               &uid,
		ReadOnlyRootFilesystem:   &t,
		AllowPrivilegeEscalation: &f,
		Privileged:               &f,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		if c.Name == name {
			return true
		}
	}
	return false
}

func hasVolume(pod *corev1.Pod, name string) bool {
	for _, v := range pod.Spec.Volumes {
		if v.Name == name {
			return true
		}
	}
	return false
}

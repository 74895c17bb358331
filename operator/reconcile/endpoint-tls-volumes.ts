// Where a job's endpoint TLS material lives in its pods: the CA from a ConfigMap or Secret and the
// client certificate from a Secret, each a read-only volume of whole keys (never subPath, which
// the kubelet does not update, and never environment variables). The processor config names only
// the file paths, so no certificate or key enters the spec, the ConfigMap or a log line.
import type { V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { EndpointTlsConfig } from "../../processor/contract.ts";
import type { JobSpec } from "../api/job-schema.ts";

type EndpointTls = NonNullable<JobSpec["endpoint"]["tls"]>;

/** Outside the config volume: a mount point cannot be made inside a read-only volume. */
export const endpointTlsDirectory = "/etc/endpoint-tls";
const caDirectory = `${endpointTlsDirectory}/ca`;
const clientDirectory = `${endpointTlsDirectory}/client`;
const caFile = "ca.crt";
const certFile = "tls.crt";
const keyFile = "tls.key";
/** Readable by the processor's group (the pod's fsGroup) only. */
const fileMode = 0o440;

/** The processor's endpoint.tls: the same choices, with files for the references. */
export function endpointTlsConfig(tls: EndpointTls): EndpointTlsConfig {
  return {
    ...(tls.ca === undefined ? {} : { caFile: `${caDirectory}/${caFile}` }),
    includePublicRoots: tls.includePublicRoots,
    ...(tls.clientCertificate === undefined
      ? {}
      : { certFile: `${clientDirectory}/${certFile}`, keyFile: `${clientDirectory}/${keyFile}` }),
    ...(tls.serverName === undefined ? {} : { serverName: tls.serverName }),
  };
}

export function endpointTlsVolumes(tls: EndpointTls | undefined): {
  volumes: V1Volume[];
  volumeMounts: V1VolumeMount[];
} {
  const volumes: V1Volume[] = [];
  const volumeMounts: V1VolumeMount[] = [];
  const ca = tls?.ca;
  if (ca?.configMapKeyRef !== undefined) {
    volumes.push({
      name: "endpoint-ca",
      configMap: {
        name: ca.configMapKeyRef.name,
        items: [{ key: ca.configMapKeyRef.key, path: caFile }],
        defaultMode: fileMode,
      },
    });
  } else if (ca?.secretKeyRef !== undefined) {
    volumes.push({
      name: "endpoint-ca",
      secret: {
        secretName: ca.secretKeyRef.name,
        items: [{ key: ca.secretKeyRef.key, path: caFile }],
        defaultMode: fileMode,
      },
    });
  }
  if (volumes.length > 0) {
    volumeMounts.push({ name: "endpoint-ca", mountPath: caDirectory, readOnly: true });
  }
  const client = tls?.clientCertificate;
  if (client !== undefined) {
    volumes.push({
      name: "endpoint-client-certificate",
      secret: {
        secretName: client.secretName,
        items: [
          { key: client.certificateKey, path: certFile },
          { key: client.privateKeyKey, path: keyFile },
        ],
        defaultMode: fileMode,
      },
    });
    volumeMounts.push({
      name: "endpoint-client-certificate",
      mountPath: clientDirectory,
      readOnly: true,
    });
  }
  return { volumes, volumeMounts };
}

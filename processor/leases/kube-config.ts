// How a pod reaches the API server. In a pod, the service account token and CA sit under
// /var/run/secrets/kubernetes.io/serviceaccount. Outside a cluster, KUBECONFIG or ~/.kube/config
// as kubectl reads them.
import { KubeConfig } from "@kubernetes/client-node";

export function loadKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (env.KUBECONFIG === undefined && env.KUBERNETES_SERVICE_HOST !== undefined) {
    kubeConfig.loadFromCluster();
  } else {
    kubeConfig.loadFromDefault();
  }
  return kubeConfig;
}

// Counts the updates of a job's shard Leases over a window, as the API server streams them to a
// watch: the write rate the Leases cost, measured rather than inferred.
import { KubeConfig, Watch } from "@kubernetes/client-node";

export async function countLeaseUpdates(
  kubeconfig: string,
  job: string,
  windowMs: number,
): Promise<number> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  let updates = 0;
  const watch = await new Watch(config).watch(
    "/apis/coordination.k8s.io/v1/namespaces/default/leases",
    { labelSelector: `asyncenrichment.dev/job=${job}` },
    (type) => {
      if (type === "MODIFIED") updates++;
    },
    () => undefined,
  );
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  watch.abort();
  return updates;
}

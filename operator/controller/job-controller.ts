// Wires the reconciler to the cluster: informers on jobs and on every object they own, pods and
// Leases included (one set per watched namespace, or cluster-wide), a work queue between events and
// reconciles, and a periodic resync that re-queues every job in case an event was lost. The
// reconciler reads only from these caches, as controller-runtime's client does: a resync of an
// unchanged job costs the API server nothing, and an owned object edited or deleted by hand
// re-queues its job at once.
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubernetesObjectApi,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  type V1Deployment,
  type V1Lease,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { unlessNotFound } from "../../processor/contract.ts";
import { group, kind, plural, version, apiVersion } from "../api/job-schema.ts";
import { createApplier, fieldManager } from "../reconcile/apply.ts";
import { createLeaseRenewals } from "../reconcile/lease-renewals.ts";
import { reconcileJob, type JobObject, type ReconcileContext } from "../reconcile/reconcile-job.ts";
import type { WorkloadSettings } from "../reconcile/desired-workload.ts";
import { resilientInformer, type Cache } from "./resilient-informer.ts";
import { createWorkQueue } from "./work-queue.ts";
import { createEventRecorder, eventsV1Sink } from "./event-recorder.ts";
import { labelKeys, managedBySelector } from "../reconcile/labels.ts";

export interface JobControllerOptions {
  kubeConfig: KubeConfig;
  /** Empty: all namespaces. */
  namespaces: string[];
  settings: WorkloadSettings;
  logger: Logger;
  workers?: number;
  resyncMs?: number;
  onReconciled?: (key: string, outcome: "success" | "error", seconds: number) => void;
  /**
   * Shard Leases change at every renewal; their figures reach the status at most this often
   * per job (5 s by default), so status writes stay few however many shards there are.
   */
  statusRefreshMs?: number;
  /** Called for every write to the API server (apply, status), by kind: what a resync must not do. */
  onWrite?: (kind: string) => void;
  /** Called at every reconcile with the job's autoscaling status; undefined when it has none. */
  onAutoscaled?: ReconcileContext["onAutoscaled"];
}

/** One cache per namespace behind the Cache interface, or a single cluster-wide one. */
function perNamespace<T extends KubernetesObject>(
  namespaces: string[],
  make: (namespace: string | undefined) => Cache<T>,
): Cache<T> {
  const caches = new Map(
    (namespaces.length === 0 ? [undefined] : namespaces).map((namespace) => [
      namespace,
      make(namespace),
    ]),
  );
  const cacheFor = (namespace: string): Cache<T> | undefined =>
    caches.get(namespaces.length === 0 ? undefined : namespace);
  return {
    get: (name, namespace) => cacheFor(namespace)?.get(name, namespace),
    list: (namespace) =>
      namespace === undefined
        ? [...caches.values()].flatMap((cache) => cache.list())
        : (cacheFor(namespace)?.list(namespace) ?? []),
    start: async () => {
      await Promise.all([...caches.values()].map((cache) => cache.start()));
    },
    stop: async () => {
      await Promise.all([...caches.values()].map((cache) => cache.stop()));
    },
  };
}

export async function startJobController(
  options: JobControllerOptions,
): Promise<{ stop(): Promise<void> }> {
  const { kubeConfig, logger, namespaces } = options;
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const events = kubeConfig.makeApiClient(EventsV1Api);
  const recordEvent = createEventRecorder(eventsV1Sink(events), {
    controller: "asyncenrichment.dev/operator",
    instance: fieldManager,
  });
  const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const networking = kubeConfig.makeApiClient(NetworkingV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const queue = createWorkQueue({
    workers: options.workers ?? 4,
    baseDelayMs: 250,
    maxDelayMs: 300_000,
  });
  const relistMs = 10 * 60_000;
  const enqueueOwner = (object: KubernetesObject): void => {
    const job = object.metadata?.labels?.[labelKeys.job];
    if (job !== undefined) queue.add(`${object.metadata?.namespace ?? ""}/${job}`);
  };
  const prefix = (namespace: string | undefined): string =>
    namespace === undefined ? "" : `/namespaces/${namespace}`;

  const jobs = perNamespace<JobObject>(namespaces, (namespace) =>
    resilientInformer<JobObject>({
      kubeConfig,
      path: `/apis/${group}/${version}${prefix(namespace)}/${plural}`,
      list: (() =>
        namespace === undefined
          ? custom.listClusterCustomObject({ group, version, plural })
          : custom.listNamespacedCustomObject({
              group,
              version,
              namespace,
              plural,
            })) as ListPromise<JobObject>,
      onChange: (job) => {
        queue.add(`${job.metadata?.namespace ?? ""}/${job.metadata?.name ?? ""}`);
      },
      logger,
      relistMs,
    }),
  );
  /** Objects the operator manages (by label), whose changes re-queue the job that owns them. */
  const managed = <T extends KubernetesObject>(
    resource: string,
    listAll: () => Promise<{ items: T[] }>,
    listIn: (namespace: string) => Promise<{ items: T[] }>,
    onChange: (object: T) => void = enqueueOwner,
  ): Cache<T> =>
    perNamespace<T>(namespaces, (namespace) =>
      resilientInformer<T>({
        kubeConfig,
        path: resource.replace("{namespace}", prefix(namespace)),
        list: () => (namespace === undefined ? listAll() : listIn(namespace)),
        labelSelector: managedBySelector,
        onChange,
        logger,
        relistMs,
      }),
    );
  const deployments = managed<V1Deployment>(
    "/apis/apps/v1{namespace}/deployments",
    () => apps.listDeploymentForAllNamespaces({ labelSelector: managedBySelector }),
    (namespace) => apps.listNamespacedDeployment({ namespace, labelSelector: managedBySelector }),
  );
  const pods = managed<V1Pod>(
    "/api/v1{namespace}/pods",
    () => core.listPodForAllNamespaces({ labelSelector: managedBySelector }),
    (namespace) => core.listNamespacedPod({ namespace, labelSelector: managedBySelector }),
  );

  const owned: ReconcileContext["owned"] = {
    ServiceAccount: managed(
      "/api/v1{namespace}/serviceaccounts",
      () => core.listServiceAccountForAllNamespaces({ labelSelector: managedBySelector }),
      (namespace) =>
        core.listNamespacedServiceAccount({ namespace, labelSelector: managedBySelector }),
    ),
    Role: managed(
      "/apis/rbac.authorization.k8s.io/v1{namespace}/roles",
      () => rbac.listRoleForAllNamespaces({ labelSelector: managedBySelector }),
      (namespace) => rbac.listNamespacedRole({ namespace, labelSelector: managedBySelector }),
    ),
    RoleBinding: managed(
      "/apis/rbac.authorization.k8s.io/v1{namespace}/rolebindings",
      () => rbac.listRoleBindingForAllNamespaces({ labelSelector: managedBySelector }),
      (namespace) =>
        rbac.listNamespacedRoleBinding({ namespace, labelSelector: managedBySelector }),
    ),
    ConfigMap: managed(
      "/api/v1{namespace}/configmaps",
      () => core.listConfigMapForAllNamespaces({ labelSelector: managedBySelector }),
      (namespace) => core.listNamespacedConfigMap({ namespace, labelSelector: managedBySelector }),
    ),
    Service: managed(
      "/api/v1{namespace}/services",
      () => core.listServiceForAllNamespaces({ labelSelector: managedBySelector }),
      (namespace) => core.listNamespacedService({ namespace, labelSelector: managedBySelector }),
    ),
    NetworkPolicy: managed(
      "/apis/networking.k8s.io/v1{namespace}/networkpolicies",
      () => networking.listNetworkPolicyForAllNamespaces({ labelSelector: managedBySelector }),
      (namespace) =>
        networking.listNamespacedNetworkPolicy({ namespace, labelSelector: managedBySelector }),
    ),
  };
  const ownedCaches = [deployments, pods, ...Object.values(owned)];

  const statusRefreshMs = options.statusRefreshMs ?? 5_000;
  const renewals = createLeaseRenewals();
  const leases: Cache<V1Lease> = managed<V1Lease>(
    "/apis/coordination.k8s.io/v1{namespace}/leases",
    () => coordination.listLeaseForAllNamespaces({ labelSelector: managedBySelector }),
    (namespace) =>
      coordination.listNamespacedLease({ namespace, labelSelector: managedBySelector }),
    (lease) => {
      const { name = "", namespace = "" } = lease.metadata ?? {};
      renewals.observe(lease, leases.get(name, namespace) !== undefined);
      const job = lease.metadata?.labels?.[labelKeys.job];
      if (job !== undefined)
        queue.addAfter(`${lease.metadata?.namespace ?? ""}/${job}`, statusRefreshMs);
    },
  );

  const context: ReconcileContext = {
    jobs,
    deployments,
    pods,
    leases,
    leaseAges: renewals,
    owned,
    applier: createApplier(objects, options.onWrite),
    readSecret: (namespace, name) => unlessNotFound(core.readNamespacedSecret({ name, namespace })),
    async writeStatus(job, status) {
      await custom.patchNamespacedCustomObjectStatus(
        {
          group,
          version,
          plural,
          namespace: job.metadata?.namespace ?? "",
          name: job.metadata?.name ?? "",
          body: {
            apiVersion,
            kind,
            metadata: { name: job.metadata?.name, namespace: job.metadata?.namespace },
            status,
          },
          fieldManager,
          force: true,
        },
        setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
      );
      options.onWrite?.(`${kind}/status`);
    },
    readJob: (namespace, name) =>
      unlessNotFound(
        custom.getNamespacedCustomObject({
          group,
          version,
          plural,
          namespace,
          name,
        }) as Promise<JobObject>,
      ),
    async scaleJob(job, parallelism) {
      await custom.patchNamespacedCustomObjectScale(
        {
          group,
          version,
          plural,
          namespace: job.metadata?.namespace ?? "",
          name: job.metadata?.name ?? "",
          body: { spec: { replicas: parallelism } },
          // Names the operator in managedFields as the writer of spec.parallelism.
          fieldManager,
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      options.onWrite?.(`${kind}/scale`);
    },
    onAutoscaled: options.onAutoscaled ?? (() => undefined),
    // As client-go's recorder, an Event that cannot be written never fails the reconcile.
    async recordEvent(job, type, reason, message) {
      await recordEvent(job, type, reason, message).catch((error: unknown) => {
        logger.warn({ err: error, job: job.metadata?.name, reason }, "could not record an Event");
      });
    },
    settings: options.settings,
    logger,
    now: () => new Date(),
  };

  await Promise.all([...ownedCaches, leases].map((cache) => cache.start()));
  await jobs.start();
  queue.start(
    async (key) => {
      const started = performance.now();
      const result = await reconcileJob(context, key);
      options.onReconciled?.(key, "success", (performance.now() - started) / 1000);
      return result;
    },
    (key, error) => {
      options.onReconciled?.(key, "error", 0);
      logger.warn({ job: key, err: error }, "reconcile failed; retrying with back-off");
    },
  );
  const resync = setInterval(
    () => {
      for (const job of jobs.list())
        queue.add(`${job.metadata?.namespace ?? ""}/${job.metadata?.name ?? ""}`);
    },
    options.resyncMs ?? 5 * 60_000,
  );
  logger.info(
    { namespaces: namespaces.length === 0 ? "all" : namespaces },
    "watching AsyncEnrichmentJobs",
  );

  return {
    async stop() {
      clearInterval(resync);
      await queue.shutdown();
      await Promise.all([jobs, leases, ...ownedCaches].map((cache) => cache.stop()));
    },
  };
}

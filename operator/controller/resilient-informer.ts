// client-node's informer stops for good on any watch error other than 410 or a timeout, and a
// watch can also go silent. This keeps one alive: it restarts after an error with back-off, and
// relists from scratch periodically, swapping caches only once the new list has arrived, so a
// reader never sees a half-empty cache.
import {
  ADD,
  DELETE,
  ERROR,
  UPDATE,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  type ObjectCache,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { backoffCeiling } from "../../processor/contract.ts";

export interface ResilientInformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** The watch path, e.g. /apis/apps/v1/deployments or /api/v1/namespaces/NS/pods. */
  path: string;
  list: ListPromise<T>;
  labelSelector?: string;
  onChange(object: T): void;
  logger: Logger;
  relistMs: number;
}

export interface Cache<T extends KubernetesObject> {
  get(name: string, namespace: string): T | undefined;
  list(namespace?: string): readonly T[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Between restarts of a failed watch. */
const watchBackoff = { baseMs: 500, maxMs: 30_000 };

export function resilientInformer<T extends KubernetesObject>(
  options: ResilientInformerOptions<T>,
): Cache<T> {
  const { logger, path } = options;
  let current: (Informer<T> & ObjectCache<T>) | undefined;
  let stopped = false;
  let failures = 0;
  let relistTimer: NodeJS.Timeout | undefined;
  let restartTimer: NodeJS.Timeout | undefined;

  const create = (): Informer<T> & ObjectCache<T> => {
    const informer = makeInformer(options.kubeConfig, path, options.list, options.labelSelector);
    const forward = (object: T): void => {
      if (informer === current) options.onChange(object);
    };
    informer.on(ADD, forward);
    informer.on(UPDATE, forward);
    informer.on(DELETE, forward);
    informer.on(ERROR, (error: unknown) => {
      if (stopped || informer !== current) return;
      failures++;
      const delay = backoffCeiling(watchBackoff, failures);
      logger.warn({ path, err: error, retryInMs: delay }, "watch failed; restarting it");
      restartTimer = setTimeout(() => {
        informer.start().then(
          () => (failures = 0),
          (restartError: unknown) => {
            logger.warn({ path, err: restartError }, "restarting the watch failed");
          },
        );
      }, delay);
    });
    return informer;
  };

  const relist = async (): Promise<void> => {
    const fresh = create();
    try {
      // The fresh informer lists while readers still use the previous cache; its events reach the
      // controller only once it is current (the controller's own resync covers a lost event).
      await fresh.start();
      const previous = current;
      current = fresh;
      await previous?.stop();
    } catch (error) {
      await fresh.stop();
      logger.warn({ path, err: error }, "periodic relist failed; keeping the current cache");
    }
  };

  return {
    get: (name, namespace) => current?.get(name, namespace),
    list: (namespace) => current?.list(namespace) ?? [],
    async start() {
      current = create();
      await current.start();
      relistTimer = setInterval(() => void relist(), options.relistMs);
    },
    async stop() {
      stopped = true;
      clearInterval(relistTimer);
      clearTimeout(restartTimer);
      await current?.stop();
    },
  };
}

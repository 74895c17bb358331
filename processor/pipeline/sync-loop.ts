// The supervisor's loop, as the KCL's Scheduler runs its own: a sync, then a pause of one sync
// interval that anything able to change what the next sync does (a shard finished, a dropped
// shard's records settled) cuts short. A failed sync is kept for the status and retried after the
// pause; until a first sync succeeds, the pause is at most a second, so a processor that started
// before its stream or its API server was ready reads soon after they are.
import { describeError } from "../kinesis/errors.ts";
import { aborted, pause } from "../util/pause.ts";

/** The pause after a sync. */
export function syncPauseMs(discovered: boolean, syncIntervalMs: number): number {
  return discovered ? syncIntervalMs : Math.min(1_000, syncIntervalMs);
}

export interface SyncHealth {
  /** A sync has succeeded. */
  discovered: boolean;
  /** Why the last sync failed, or undefined when it succeeded. */
  discoveryError: string | undefined;
}

export interface SyncLoopOptions {
  syncIntervalMs: number;
  signal: AbortSignal;
  /** A sync failed, described; it is retried after the pause. */
  onFailure(error: string): void;
}

export type SyncLoop = ReturnType<typeof createSyncLoop>;

export function createSyncLoop(options: SyncLoopOptions) {
  const { signal } = options;
  let health: SyncHealth = { discovered: false, discoveryError: undefined };
  let wake: (() => void) | undefined;
  return {
    /** Runs `sync` until the signal aborts. */
    async run(sync: () => Promise<void>): Promise<void> {
      while (!signal.aborted) {
        try {
          await sync();
          health = { discovered: true, discoveryError: undefined };
        } catch (error) {
          if (aborted(signal)) break;
          const discoveryError = describeError(error);
          health = { ...health, discoveryError };
          options.onFailure(discoveryError);
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          void pause(syncPauseMs(health.discovered, options.syncIntervalMs), signal).then(resolve);
        });
      }
    },
    /** Ends the pause now, if the loop is pausing. */
    wake(): void {
      wake?.();
    },
    health(): SyncHealth {
      return health;
    },
  };
}

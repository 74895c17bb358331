// One container of a pod, run as a local process: waiting -> running -> terminated, restarted per
// the pod's restartPolicy with crash-loop back-off, probed while it runs, and stopped with SIGTERM,
// the grace period, then SIGKILL. Its status is kept in the API's shape, for pod-status.ts.
import { closeSync, openSync } from "node:fs";
import { constants } from "node:os";
import { restartDelayMs } from "./backoff.ts";
import { isProjectImage } from "./image.ts";
import type { LaunchPlan } from "./launch-plan.ts";
import { ContainerConfigError } from "./object-source.ts";
import { spawnOwned, type OwnedProcess } from "../owned-process.ts";
import { containerLogPath, recordTermination } from "./pod-files.ts";
import { startProber, type Prober } from "./prober.ts";
import type { Container, ContainerState, ContainerStatus, RestartPolicy } from "./types.ts";

export interface ContainerContext {
  podDir: string;
  podIP: string;
  restartPolicy: RestartPolicy;
  /** The waiting reason before start(): ContainerCreating, or PodInitializing behind init containers. */
  initialReason: string;
  backoffBaseMs: number;
  /** Grace period of a liveness kill (the pod's terminationGracePeriodSeconds). */
  killGraceMs: number;
  /** Builds the process to run: env, volumes, argv. Throws ContainerConfigError to wait. */
  prepare(container: Container): Promise<LaunchPlan>;
  /** Called whenever the status changed, so the pod's status gets written. */
  changed(): void;
  /** Called when the process exited and will not be restarted (init containers go on from here). */
  finished?(exitCode: number): void;
  log(message: string, fields: Record<string, unknown>): void;
}

export interface ContainerRun {
  /** Starts the container (init containers run one after the other before the others). */
  start(): void;
  status(): ContainerStatus;
  /** Stops the process for good: SIGTERM, graceMs, SIGKILL. */
  terminate(graceMs: number): Promise<void>;
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, "Z");

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : constants.signals[signal]);
}

export function runContainer(container: Container, context: ContainerContext): ContainerRun {
  let state: ContainerState = { waiting: { reason: context.initialReason } };
  let lastState: ContainerState = {};
  let restartCount = 0;
  let ready = false;
  let started = false;
  let containerID: string | undefined;
  let running: OwnedProcess | undefined;
  let prober: Prober | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  const isStopping = (): boolean => stopping;

  const set = (next: ContainerState): void => {
    state = next;
    context.changed();
  };
  const later = (ms: number, action: () => void): void => {
    clearTimeout(timer);
    timer = setTimeout(action, ms);
  };

  const exited = (
    process: OwnedProcess,
    plan: LaunchPlan,
    startedAt: string,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void => {
    prober?.stop();
    running = undefined;
    ready = false;
    const exitCode = exitCodeOf(code, signal);
    const terminated = {
      exitCode,
      ...(signal === null ? {} : { signal: constants.signals[signal] }),
      reason: exitCode === 0 ? "Completed" : "Error",
      startedAt,
      finishedAt: now(),
      ...(containerID === undefined ? {} : { containerID }),
    };
    recordTermination(context.podDir, {
      container: container.name,
      pid: process.child.pid,
      exitCode,
      signal,
      reason: terminated.reason,
      // Milliseconds, unlike the API's seconds: enough to see the back-off between exits.
      finishedAt: new Date().toISOString(),
    });
    context.log("container exited", {
      container: container.name,
      exitCode,
      signal,
      file: plan.file,
    });
    const restart =
      !stopping &&
      (context.restartPolicy === "Always" ||
        (context.restartPolicy === "OnFailure" && exitCode !== 0));
    if (!restart) {
      set({ terminated });
      context.finished?.(exitCode);
      return;
    }
    lastState = { terminated };
    const delayMs = restartDelayMs(restartCount, context.backoffBaseMs);
    set(
      delayMs === 0
        ? { terminated }
        : {
            waiting: {
              reason: "CrashLoopBackOff",
              message: `back-off ${Math.round(delayMs / 1000)}s restarting failed container=${container.name}`,
            },
          },
    );
    later(delayMs, () => {
      restartCount++;
      void attempt();
    });
  };

  const launch = (plan: LaunchPlan): void => {
    const log = openSync(containerLogPath(context.podDir, container.name), "a");
    const process = spawnOwned(plan.file, plan.args, {
      cwd: plan.cwd,
      env: plan.env,
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    running = process;
    const startedAt = now();
    containerID = `process://${String(process.child.pid)}`;
    started = false;
    let spawnError: Error | undefined;
    process.child.once("error", (error) => {
      spawnError = error;
    });
    process.child.once("exit", (code, signal) => {
      exited(process, plan, startedAt, code, signal);
    });
    void process.exited.then(() => {
      // A command that cannot be started (ENOENT, EACCES) emits no "exit".
      if (spawnError === undefined || running !== process) return;
      running = undefined;
      set({
        waiting: { reason: "RunContainerError", message: spawnError.message },
      });
      later(restartDelayMs(restartCount + 1, context.backoffBaseMs), () => void attempt());
    });
    set({ running: { startedAt } });
    context.log("container started", {
      container: container.name,
      pid: process.child.pid,
      argv: [plan.file, ...plan.args],
    });
    prober = startProber(
      { podIP: context.podIP, container, plan },
      {
        started: () => {
          started = true;
          context.changed();
        },
        readiness: (value) => {
          ready = value;
          context.changed();
        },
        failed: (message) => {
          context.log("container failed a probe", { container: container.name, message });
          void process.stop(context.killGraceMs);
        },
      },
    );
  };

  const attempt = async (): Promise<void> => {
    if (stopping) return;
    if (!isProjectImage(container.image)) {
      set({
        waiting: {
          reason: "ErrImagePull",
          message: `Failed to pull image "${container.image}": the test kubelet runs only this project's image, as local processes`,
        },
      });
      later(context.backoffBaseMs, () => {
        set({
          waiting: {
            reason: "ImagePullBackOff",
            message: `Back-off pulling image "${container.image}"`,
          },
        });
      });
      return;
    }
    let plan: LaunchPlan;
    try {
      plan = await context.prepare(container);
    } catch (error) {
      const reason = error instanceof ContainerConfigError ? error.reason : "CreateContainerError";
      const message = error instanceof Error ? error.message : String(error);
      set({ waiting: { reason, message } });
      // Fixed retries: the missing Secret or ConfigMap may appear any moment.
      later(Math.min(context.backoffBaseMs, 2_000), () => void attempt());
      return;
    }
    // prepare() awaited: the pod may have been deleted meanwhile.
    if (!isStopping()) launch(plan);
  };

  return {
    start: () => {
      void attempt();
    },
    status: () => ({
      name: container.name,
      image: container.image,
      imageID: "",
      ...(containerID === undefined ? {} : { containerID }),
      ready,
      started,
      restartCount,
      state,
      lastState,
    }),
    terminate: async (graceMs) => {
      stopping = true;
      clearTimeout(timer);
      prober?.stop();
      const process = running;
      if (process !== undefined) await process.stop(graceMs);
    },
  };
}

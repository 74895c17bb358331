// The test kubelet's pure rules, as a kubelet applies them: argv from the image, $(VAR) expansion,
// mount-path substitution, crash-loop back-off and the pod phase.
import assert from "node:assert/strict";
import { test } from "node:test";
import { restartDelayMs } from "./kubelet/backoff.ts";
import { expandReferences } from "./kubelet/expand.ts";
import { launchPlan } from "./kubelet/launch-plan.ts";
import { createPathMapper } from "./kubelet/path-mapping.ts";
import { podPhase } from "./kubelet/pod-status.ts";
import type { ContainerStatus } from "./kubelet/types.ts";

const paths = { repositoryRoot: "/repo", nodeBinary: "/repo/node_modules/.bin/node" };
const container = { name: "main", image: "ghcr.io/async-enrichment/async-enrichment:dev" };

test("argv follows the image rules: ENTRYPOINT + CMD, ENTRYPOINT + args, or command + args", () => {
  const plan = (extra: object) => launchPlan({ ...container, ...extra }, new Map(), "/root", paths);
  assert.deepEqual(plan({}), {
    file: "/repo/node_modules/.bin/node",
    args: ["processor/main.ts"],
    cwd: "/repo",
    env: { HOME: "/root", AEJ_CONTAINER_ROOT: "/root" },
  });
  assert.deepEqual(plan({ args: ["demo/endpoint.ts"] }).args, ["demo/endpoint.ts"]);
  const command = plan({ command: ["/bin/sh", "-c"], args: ["echo"] });
  assert.deepEqual([command.file, ...command.args], ["/bin/sh", "-c", "echo"]);
});

test("mount paths in args and env move under the container root; the service-account folder is named", () => {
  const plan = launchPlan(
    {
      ...container,
      args: ["processor/main.ts", "--config=/etc/config/job.json", "$(EXTRA)"],
      volumeMounts: [
        { name: "config", mountPath: "/etc/config/" },
        { name: "token", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" },
      ],
    },
    new Map([
      ["EXTRA", "/etc/config"],
      ["OTHER", "/etc/configs/x"],
    ]),
    "/pods/p/roots/main",
    paths,
  );
  assert.deepEqual(plan.args, [
    "processor/main.ts",
    "--config=/pods/p/roots/main/etc/config/job.json",
    "/pods/p/roots/main/etc/config",
  ]);
  assert.equal(plan.env.OTHER, "/etc/configs/x");
  assert.equal(plan.env.AEJ_CONTAINER_ROOT, "/pods/p/roots/main");
  assert.equal(
    plan.env.AEJ_SERVICEACCOUNT_DIR,
    "/pods/p/roots/main/var/run/secrets/kubernetes.io/serviceaccount",
  );
});

test("the image's WORKDIR maps to the repository root, longest mount first", () => {
  const map = createPathMapper([
    { containerPath: "/app", hostPath: "/repo" },
    { containerPath: "/app/data", hostPath: "/pods/p/volumes/data" },
  ]);
  assert.equal(map("/app/processor/main.ts"), "/repo/processor/main.ts");
  assert.equal(map("/app/data/x"), "/pods/p/volumes/data/x");
  assert.equal(map("/application"), "/application");
});

test("$(VAR) expands defined variables, keeps unknown ones and unescapes $$", () => {
  const vars = new Map([["A", "1"]]);
  assert.equal(expandReferences("$(A)-$(B)-$$(A)", vars), "1-$(B)-$(A)");
});

test("restarts wait 0, then the base doubling up to 30 times the base", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 10].map((n) => restartDelayMs(n, 10_000)),
    [0, 10_000, 20_000, 40_000, 300_000],
  );
});

test("the pod phase follows the containers and the restart policy", () => {
  const status = (state: ContainerStatus["state"], lastState = {}): ContainerStatus => ({
    name: "c",
    image: "i",
    imageID: "",
    ready: false,
    started: false,
    restartCount: 0,
    state,
    lastState,
  });
  const at = "2026-01-01T00:00:00Z";
  const exited = (exitCode: number) => ({ terminated: { exitCode, reason: "x", finishedAt: at } });
  assert.equal(
    podPhase([status({ waiting: { reason: "ContainerCreating" } })], "Always"),
    "Pending",
  );
  assert.equal(podPhase([status({ running: { startedAt: at } })], "Never"), "Running");
  assert.equal(
    podPhase([status({ waiting: { reason: "CrashLoopBackOff" } }, exited(3))], "Always"),
    "Running",
  );
  assert.equal(podPhase([status(exited(0))], "Never"), "Succeeded");
  assert.equal(podPhase([status(exited(1))], "Never"), "Failed");
  assert.equal(podPhase([status(exited(0))], "OnFailure"), "Succeeded");
  assert.equal(podPhase([status(exited(1))], "OnFailure"), "Running");
});

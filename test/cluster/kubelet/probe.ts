// One probe attempt, as the kubelet's prober makes it: httpGet (2xx/3xx passes) or tcpSocket to the
// pod's address, or exec in the container's folder; each bounded by timeoutSeconds.
import { execFile } from "node:child_process";
import { request } from "node:http";
import { connect } from "node:net";
import type { LaunchPlan } from "./launch-plan.ts";
import type { Container, Probe } from "./types.ts";

export interface ProbeTarget {
  podIP: string;
  container: Container;
  plan: LaunchPlan;
}

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

function resolvePort(port: number | string, container: Container): number {
  if (typeof port === "number") return port;
  const named = container.ports?.find((entry) => entry.name === port);
  return named?.containerPort ?? Number(port);
}

function httpProbe(
  probe: NonNullable<Probe["httpGet"]>,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<ProbeResult> {
  const host = probe.host ?? target.podIP;
  const port = resolvePort(probe.port, target.container);
  return new Promise((resolve) => {
    const call = request(
      { host, port, path: probe.path ?? "/", method: "GET", timeout: timeoutMs },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        resolve({
          ok: status >= 200 && status < 400,
          detail: `HTTP probe failed with statuscode: ${status}`,
        });
      },
    );
    call.on("timeout", () => call.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    call.on("error", (error) => {
      resolve({
        ok: false,
        detail: `Get "http://${host}:${port}${probe.path ?? "/"}": ${error.message}`,
      });
    });
    call.end();
  });
}

function tcpProbe(
  probe: NonNullable<Probe["tcpSocket"]>,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<ProbeResult> {
  const host = probe.host ?? target.podIP;
  const port = resolvePort(probe.port, target.container);
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolve({ ok: true, detail: "" });
    });
    socket.once("timeout", () => socket.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    socket.once("error", (error) => {
      resolve({ ok: false, detail: `dial tcp ${host}:${port}: ${error.message}` });
    });
  });
}

function execProbe(
  command: string[],
  target: ProbeTarget,
  timeoutMs: number,
): Promise<ProbeResult> {
  const [file, ...args] = command;
  return new Promise((resolve) => {
    execFile(
      file === "node" ? target.plan.file : (file ?? "false"),
      args,
      { cwd: target.plan.cwd, env: target.plan.env, timeout: timeoutMs },
      (error, stdout, stderr) => {
        resolve({ ok: error === null, detail: `${stdout}${stderr}`.trim() });
      },
    );
  });
}

export function runProbe(probe: Probe, target: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet !== undefined) return httpProbe(probe.httpGet, target, timeoutMs);
  if (probe.tcpSocket !== undefined) return tcpProbe(probe.tcpSocket, target, timeoutMs);
  if (probe.exec !== undefined) return execProbe(probe.exec.command, target, timeoutMs);
  return Promise.resolve({ ok: true, detail: "" });
}

// A pod's folder on the kubelet's machine: <podsDir>/<namespace>_<pod>/ holds one log file per
// container (stdout and stderr, appended across restarts), terminations.jsonl (one line per
// container exit, so a test can see the exit code of a pod that is gone), volumes/<name>/ and
// roots/<container>/ (each container's mount paths, linked to the volumes).
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

export interface Termination {
  container: string;
  pid: number | undefined;
  exitCode: number;
  signal: string | null;
  reason: string;
  finishedAt: string;
}

export function podDirectory(podsDir: string, namespace: string, pod: string): string {
  return join(podsDir, `${namespace}_${pod}`);
}

export function containerLogPath(podDir: string, container: string): string {
  return join(podDir, `${container}.log`);
}

/** A fresh folder for a pod uid; a folder left by an earlier pod of the same name is replaced. */
export function preparePodDirectory(podDir: string, uid: string): void {
  const uidFile = join(podDir, "uid");
  if (existsSync(uidFile) && readFileSync(uidFile, "utf8") !== uid) {
    rmSync(podDir, { recursive: true, force: true });
  }
  mkdirSync(join(podDir, "volumes"), { recursive: true });
  writeFileSync(uidFile, uid);
}

export function recordTermination(podDir: string, termination: Termination): void {
  appendFileSync(join(podDir, "terminations.jsonl"), `${JSON.stringify(termination)}\n`);
}

/** What a container wrote so far ("" before it first started). */
export function readPodLog(
  podsDir: string,
  namespace: string,
  pod: string,
  container: string,
): string {
  const file = containerLogPath(podDirectory(podsDir, namespace, pod), container);
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

/** Every container exit of a pod, oldest first. */
export function readTerminations(podsDir: string, namespace: string, pod: string): Termination[] {
  const file = join(podDirectory(podsDir, namespace, pod), "terminations.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Termination);
}

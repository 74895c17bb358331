// What the test cluster runs: build.sh builds it once into the user's cache (outside the clone)
// and prints the bin folder; later calls find the stamp files and return at once. image.sh builds
// the project's image from the Dockerfile (kept per content of the build context).
import { execFileSync } from "node:child_process";
import { join } from "node:path";

function lastLine(script: string, args: string[]): string {
  const output = execFileSync("bash", [join(import.meta.dirname, script), ...args], {
    encoding: "utf8",
    // Progress of a cold build (minutes) shows on stderr; stdout carries only the result.
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = output.trim().split("\n").at(-1);
  if (line === undefined || line === "") throw new Error(`${script} printed nothing`);
  return line;
}

export function controlPlaneBinaries(): string {
  return lastLine("build.sh", ["control-plane"]);
}

/** The bin folder with the node's binaries too (kubelet, kube-proxy, containerd, coredns). */
export function nodeBinaries(): string {
  return lastLine("build.sh", ["all"]);
}

/** build.sh keeps image archives beside the bin folder's parent: <cache>/images. */
export function pauseImageArchive(bin: string): string {
  return join(bin, "../../images/pause-3.10.tar");
}

/** The archive of the project's image (ghcr.io/async-enrichment/async-enrichment:test). */
export function projectImageArchive(): string {
  return lastLine("image.sh", []);
}

// The control-plane binaries: build.sh builds them once into the user's cache (outside the clone)
// and prints their folder; later calls find the stamp file and return at once.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export function controlPlaneBinaries(): string {
  const output = execFileSync("bash", [join(import.meta.dirname, "build.sh")], {
    encoding: "utf8",
    // Progress of a cold build (minutes) shows on stderr; stdout carries only the folder.
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const bin = output.trim().split("\n").at(-1);
  if (bin === undefined || bin === "") throw new Error("build.sh printed no bin directory");
  return bin;
}

// The processor as the image runs it: JavaScript that tsc emits from the sources with the image's
// build config (tsconfig.build.json, as the Dockerfile compiles it), not the .ts files through
// Node's type stripping, which costs a process memory of its own.
import { execFileSync } from "node:child_process";
import { copyFileSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { temporaryDirectory } from "../support/temporary-directory.ts";

const repository = join(import.meta.dirname, "../..");

/** Compiles the processor and the operator into a fresh folder; returns processor/main.js's path. */
export function compileProcessor(): string {
  const folder = temporaryDirectory("bench-compiled-");
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [
    tsc,
    "-p",
    join(repository, "tsconfig.build.json"),
    "--outDir",
    folder,
  ]);
  // The image's layout: package.json ("type": "module") and node_modules beside the code.
  copyFileSync(join(repository, "package.json"), join(folder, "package.json"));
  symlinkSync(join(repository, "node_modules"), join(folder, "node_modules"));
  return join(folder, "processor/main.js");
}

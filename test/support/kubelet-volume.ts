// Writes files the way the kubelet writes a Secret or ConfigMap volume: each name a symlink to
// `..data/name`, `..data` a symlink to a timestamped directory. An update writes a new directory
// and renames a new `..data` link over the old one, so a reader sees all old or all new files.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

let generation = 0;

export function writeVolume(directory: string, files: Record<string, string>): void {
  mkdirSync(directory, { recursive: true });
  const payload = `..${new Date().toISOString().replaceAll(":", "_")}.${String(++generation)}`;
  mkdirSync(join(directory, payload));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(directory, payload, name), content);
  }
  let previous: string | undefined;
  try {
    previous = readlinkSync(join(directory, "..data"));
  } catch {
    previous = undefined;
  }
  symlinkSync(payload, join(directory, "..data_tmp"));
  renameSync(join(directory, "..data_tmp"), join(directory, "..data"));
  for (const name of Object.keys(files)) {
    try {
      symlinkSync(join("..data", name), join(directory, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  if (previous !== undefined) rmSync(join(directory, previous), { recursive: true });
}

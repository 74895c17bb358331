// A container's view of its mounts on the kubelet's machine: <podDir>/roots/<container> mirrors
// the container's file system for its volume mounts only, each mount path a symlink to the volume's
// folder (or its subPath). So `<root>/etc/config/job.json` is what the container would read at
// /etc/config/job.json, and `<root>/var/run/secrets/kubernetes.io/serviceaccount` is its
// service-account folder, which @kubernetes/client-node finds with loadFromCluster(<root>).
import { existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { ContainerConfigError } from "./object-source.ts";
import type { Container } from "./types.ts";

export function containerRoot(podDir: string, container: string): string {
  return join(podDir, "roots", container);
}

/** (Re)creates the container root's symlinks; fails if a mount names no volume of the pod. */
export function linkMounts(
  container: Container,
  volumeFolders: ReadonlyMap<string, string>,
  root: string,
): void {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  // Shorter paths first, so a mount inside another mount's folder lands in it.
  const mounts = [...(container.volumeMounts ?? [])].sort(
    (a, b) => a.mountPath.length - b.mountPath.length,
  );
  for (const mount of mounts) {
    const folder = volumeFolders.get(mount.name);
    if (folder === undefined) {
      throw new ContainerConfigError(
        "CreateContainerConfigError",
        `volumeMount ${mount.name} names no volume of the pod`,
      );
    }
    const link = join(root, mount.mountPath);
    mkdirSync(dirname(link), { recursive: true });
    if (!existsSync(link)) symlinkSync(join(folder, mount.subPath ?? ""), link);
  }
}

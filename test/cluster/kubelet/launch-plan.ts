// How a container of the project's image becomes a local process. argv follows the image rules
// (no command: ENTRYPOINT + (args ?? CMD); a command: command + (args ?? [])), with $(VAR) expanded;
// then each mount path maps to its place in the container root (see container-root.ts and
// path-mapping.ts). `node` is the repository's pinned Node 24, the working directory the
// repository root (the image's WORKDIR /app).
import { expandReferences } from "./expand.ts";
import { projectImage } from "./image.ts";
import { ContainerConfigError } from "./object-source.ts";
import { createPathMapper, type PathMapping } from "./path-mapping.ts";
import type { Container } from "./types.ts";

/** Where client libraries look for the pod's service-account token, CA and namespace. */
export const serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface LaunchPlan {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

function imageArgv(container: Container): string[] {
  if (container.command !== undefined) return [...container.command, ...(container.args ?? [])];
  return [...projectImage.entrypoint, ...(container.args ?? projectImage.cmd)];
}

export function launchPlan(
  container: Container,
  env: ReadonlyMap<string, string>,
  root: string,
  paths: { repositoryRoot: string; nodeBinary: string },
): LaunchPlan {
  const mountPaths = (container.volumeMounts ?? []).map((mount) =>
    mount.mountPath.replace(/\/+$/, ""),
  );
  const mappings: PathMapping[] = [
    { containerPath: projectImage.workdir, hostPath: paths.repositoryRoot },
    ...mountPaths.map((containerPath) => ({ containerPath, hostPath: root + containerPath })),
  ];
  const mapPath = createPathMapper(mappings);
  const argv = imageArgv(container).map((part) => mapPath(expandReferences(part, env)));
  const [command, ...args] = argv;
  if (command === undefined || command === "") {
    throw new ContainerConfigError("CreateContainerConfigError", "the container has no command");
  }
  const hasServiceAccount = mountPaths.includes(serviceAccountMountPath);
  return {
    file: command === "node" ? paths.nodeBinary : command,
    args,
    cwd: mapPath(container.workingDir ?? projectImage.workdir),
    env: {
      // Not the kubelet's home: a ~/.kube/config there would win over the in-cluster config.
      HOME: root,
      // PATH holds the kubelet's own folders, which are no container paths.
      ...Object.fromEntries(
        [...env].map(([name, value]) => [name, name === "PATH" ? value : mapPath(value)]),
      ),
      // Code that cannot see the container's paths finds its mounts here: client-node's
      // loadFromCluster(AEJ_CONTAINER_ROOT), or the token, ca.crt and namespace files in
      // AEJ_SERVICEACCOUNT_DIR.
      AEJ_CONTAINER_ROOT: root,
      ...(hasServiceAccount ? { AEJ_SERVICEACCOUNT_DIR: root + serviceAccountMountPath } : {}),
    },
  };
}

// A local process cannot see a container's paths (/etc/config, /var/run/secrets/..., /app), so the
// kubelet rewrites every occurrence of a mount path in the container's command, args and env values
// to its place under the container root (container-root.ts), longest path first, and only where
// the path stands whole (`--config=/etc/config/job.json` maps, `/etc/configs` does not). The
// image's WORKDIR (/app) maps to the repository root, where the image's files are.

export interface PathMapping {
  containerPath: string;
  hostPath: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function createPathMapper(mappings: PathMapping[]): (value: string) => string {
  if (mappings.length === 0) return (value) => value;
  const byLength = [...mappings].sort((a, b) => b.containerPath.length - a.containerPath.length);
  const hosts = new Map(byLength.map((entry) => [entry.containerPath, entry.hostPath]));
  const alternatives = byLength.map((entry) => escapeRegExp(entry.containerPath)).join("|");
  // Preceded by start or a non-path character, followed by end, "/" or a non-path character.
  const pattern = new RegExp(`(^|[^\\w./-])(${alternatives})(?=$|/|[^\\w.-])`, "g");
  return (value) =>
    value.replace(
      pattern,
      (_match, before: string, path: string) => before + (hosts.get(path) ?? path),
    );
}

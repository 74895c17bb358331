// Leaves the machine as the test node found it: the containers' processes and their shims ended,
// every mount under the node's folder gone (network namespaces, volumes, root filesystems), the
// pods' cgroups removed, the iptables chains of the kubelet, kube-proxy and the isolation rule
// dropped, the bridge deleted and the kernel settings the kubelet and the bridge change restored.
// Idempotent: the node's stop runs it, and so do cluster:down and the next start after a crash.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeBridge } from "./node-network.ts";

/** What the kubelet (overcommit, panic), the bridge plugin (forwarding) and kube-proxy change. */
const sysctls = [
  "vm/overcommit_memory",
  "kernel/panic",
  "kernel/panic_on_oops",
  "net/ipv4/ip_forward",
  "net/ipv4/conf/all/route_localnet",
  "net/bridge/bridge-nf-call-iptables",
  "net/bridge/bridge-nf-call-ip6tables",
  "net/netfilter/nf_conntrack_max",
  "net/netfilter/nf_conntrack_tcp_timeout_established",
  "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
];
const sysctlFile = (directory: string): string => join(directory, "sysctls.json");

/**
 * Folders outside the node's folder that the daemons create whatever they are told: the kubelet's
 * device-plugin folder and its container-log links, the runc shim's socket folder.
 */
const hostFolders = ["/var/lib/kubelet", "/var/log/containers", "/run/containerd"];
const hostFolderFile = (directory: string): string => join(directory, "host-folders.json");

/** Records, once, which of those folders the machine had before the node: they stay. */
export function saveHostFolders(directory: string): void {
  if (existsSync(hostFolderFile(directory))) return;
  const absent = hostFolders.filter((folder) => !existsSync(folder));
  writeFileSync(hostFolderFile(directory), `${JSON.stringify(absent)}\n`);
}

function removeHostFolders(directory: string): void {
  if (!existsSync(hostFolderFile(directory))) return;
  const made = JSON.parse(readFileSync(hostFolderFile(directory), "utf8")) as string[];
  for (const folder of made) rmSync(folder, { recursive: true, force: true });
  rmSync(hostFolderFile(directory));
}

/** Records the settings once: a leftover record from a crashed run holds the original values. */
export function saveSysctls(directory: string): void {
  if (existsSync(sysctlFile(directory))) return;
  const values = Object.fromEntries(
    sysctls
      .filter((name) => existsSync(`/proc/sys/${name}`))
      .map((name) => [name, readFileSync(`/proc/sys/${name}`, "utf8").trim()]),
  );
  writeFileSync(sysctlFile(directory), `${JSON.stringify(values, null, 2)}\n`);
}

function restoreSysctls(directory: string): void {
  if (!existsSync(sysctlFile(directory))) return;
  const values = JSON.parse(readFileSync(sysctlFile(directory), "utf8")) as Record<string, string>;
  for (const [name, value] of Object.entries(values)) {
    try {
      writeFileSync(`/proc/sys/${name}`, value);
    } catch {
      // A setting that is gone (a module unloaded) needs no restoring.
    }
  }
  rmSync(sysctlFile(directory));
}

const cgroupRoot = "/sys/fs/cgroup";

/** Every cgroup folder of the pods (kubepods and below, in each hierarchy), deepest first. */
function podCgroups(): string[] {
  if (!existsSync(cgroupRoot)) return [];
  const found: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(folder, entry.name));
    }
    found.push(folder);
  };
  for (const hierarchy of readdirSync(cgroupRoot)) {
    const pods = join(cgroupRoot, hierarchy, "kubepods");
    if (existsSync(pods)) walk(pods);
  }
  return found;
}

function podProcesses(): number[] {
  return podCgroups()
    .map((folder) => join(folder, "cgroup.procs"))
    .filter((file) => existsSync(file))
    .flatMap((file) => readFileSync(file, "utf8").split("\n").filter(Boolean).map(Number));
}

/** SIGKILL to every process in the pods' cgroups, then waits (5 s at most) until they are gone. */
async function killPodProcesses(): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (let left = podProcesses(); left.length > 0; left = podProcesses()) {
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** containerd's shims outlive containerd by design; ours name the node's socket. */
function killShims(directory: string): void {
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    let commandLine: string;
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (commandLine.includes("containerd-shim") && commandLine.includes(directory)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
}

function mountsUnder(directory: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .map((point) => point.replace(/\\040/g, " "))
    .filter((point) => point === directory || point.startsWith(`${directory}/`))
    .sort((a, b) => b.length - a.length);
}

function unmountUnder(directory: string): void {
  for (const point of mountsUnder(directory)) {
    try {
      execFileSync("umount", [point], { stdio: "ignore" });
    } catch {
      // Busy (a process still dying): detach it now, the kernel frees it when the last user goes.
      execFileSync("umount", ["--lazy", point], { stdio: "ignore" });
    }
  }
}

function removeCgroups(): void {
  for (const folder of podCgroups()) {
    try {
      rmdirSync(folder);
    } catch {
      // cgroupfs folders go with rmdir only; a busy one is reported by the next start.
    }
  }
}

const ourChain = /^(KUBE-|AEJ-)/;

/** Drops our chains and the rules that jump to them, keeping every other rule as it was. */
function removeChains(save: string, restore: string): void {
  let saved: string;
  try {
    saved = execFileSync(save, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return; // no iptables here: nothing was added
  }
  const kept = saved
    .split("\n")
    .filter((line) => {
      if (line.startsWith(":")) return !ourChain.test(line.slice(1));
      if (!line.startsWith("-A ")) return true;
      const words = line.split(" ");
      const chain = words[1] ?? "";
      const target = words[words.findIndex((word) => word === "-j" || word === "-g") + 1] ?? "";
      return !ourChain.test(chain) && !ourChain.test(target);
    })
    .join("\n");
  if (kept !== saved) execFileSync(restore, { input: kept, stdio: ["pipe", "ignore", "pipe"] });
}

export async function cleanupNode(directory: string): Promise<void> {
  await killPodProcesses();
  killShims(directory);
  unmountUnder(directory);
  removeCgroups();
  removeChains("iptables-save", "iptables-restore");
  removeChains("ip6tables-save", "ip6tables-restore");
  removeBridge();
  restoreSysctls(directory);
  removeHostFolders(directory);
  for (const folder of ["containerd", "kubelet"]) {
    rmSync(join(directory, folder), { recursive: true, force: true });
  }
}

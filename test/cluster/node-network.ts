// The test node's network: a bridge that every pod's veth joins, the pod and Service ranges, and
// the promise the test bed keeps: traffic only between this machine and the pods' network
// namespaces. No masquerading; pods get routes to the pod and Service ranges only (no default
// route), and a FORWARD rule drops anything a pod sends elsewhere or anything from outside to a pod.
import { execFileSync } from "node:child_process";

export const bridge = "aej0";
export const podSubnet = "10.244.0.0/24";
/** The bridge's address: the node's InternalIP, where the API server and cluster DNS listen. */
export const nodeIp = "10.244.0.1";
export const serviceSubnet = "10.96.0.0/24";
/** The ClusterIP of the `kubernetes` Service: the first address of the Service range. */
export const kubernetesServiceIp = "10.96.0.1";
export const isolationChain = "AEJ-ISOLATION";

function run(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function toNumber(address: string): number {
  return address.split(".").reduce((value, part) => value * 256 + Number(part), 0);
}

function range(cidr: string): [number, number] {
  const [address = "", bits = "32"] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toNumber(address) / size) * size;
  return [start, start + size - 1];
}

function overlaps(a: string, b: string): boolean {
  const [aStart, aEnd] = range(a);
  const [bStart, bEnd] = range(b);
  return aStart <= bEnd && bStart <= aEnd;
}

/** Fails unless no interface address and no route of this machine touches the node's ranges. */
export function assertRangesUnused(): void {
  const addresses = JSON.parse(run("ip", "-j", "-4", "addr")) as {
    ifname: string;
    addr_info: { local: string; prefixlen: number }[];
  }[];
  const routes = JSON.parse(run("ip", "-j", "-4", "route", "show", "table", "all")) as {
    dst: string;
    dev?: string;
  }[];
  const used = [
    ...addresses.flatMap((link) =>
      link.addr_info.map((info) => ({
        what: `address ${info.local}/${String(info.prefixlen)} of ${link.ifname}`,
        cidr: `${info.local}/${String(info.prefixlen)}`,
      })),
    ),
    ...routes
      .filter((route) => route.dst !== "default" && /^[\d.]+(\/\d+)?$/.test(route.dst))
      .map((route) => ({ what: `route ${route.dst} via ${route.dev ?? "?"}`, cidr: route.dst })),
  ].filter(({ cidr }) => !cidr.startsWith("127."));
  for (const wanted of [podSubnet, serviceSubnet]) {
    const clash = used.find(({ cidr }) => overlaps(cidr, wanted));
    if (clash !== undefined) {
      throw new Error(
        `the test node needs ${wanted}, but this machine already uses it (${clash.what}); ` +
          "if it is a leftover test cluster, run `npm run cluster:down`",
      );
    }
  }
}

export function bridgeExists(): boolean {
  try {
    run("ip", "link", "show", bridge);
    return true;
  } catch {
    return false;
  }
}

/**
 * The bridge with the node's address, a host route to the Service range through it (so the host's
 * own connections to a ClusterIP leave from the node's address), and the isolation chain.
 */
export function createNetwork(): void {
  run("ip", "link", "add", bridge, "type", "bridge");
  run("ip", "addr", "add", `${nodeIp}/${podSubnet.split("/")[1] ?? "24"}`, "dev", bridge);
  run("ip", "link", "set", bridge, "up");
  run("ip", "route", "add", serviceSubnet, "dev", bridge, "src", nodeIp);
  run("iptables", "-N", isolationChain);
  run("iptables", "-A", isolationChain, "-s", podSubnet, "-d", podSubnet, "-j", "RETURN");
  run("iptables", "-A", isolationChain, "-s", podSubnet, "-j", "DROP");
  run("iptables", "-A", isolationChain, "-d", podSubnet, "-j", "DROP");
  run("iptables", "-I", "FORWARD", "1", "-j", isolationChain);
}

export function removeBridge(): void {
  if (bridgeExists()) run("ip", "link", "delete", bridge);
}

/** The CNI network every pod joins: the bridge, host-local addresses, routes to both ranges. */
export function cniConfig(dataDir: string): object {
  return {
    cniVersion: "1.0.0",
    name: "aej-pods",
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        // No default route in pods: the routes below are all they get.
        isDefaultGateway: false,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          dataDir,
          ranges: [[{ subnet: podSubnet, gateway: nodeIp }]],
          routes: [{ dst: serviceSubnet }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

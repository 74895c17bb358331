// Whether this machine can run the test node, and if not, why: tests that need pods skip with
// this sentence rather than fail on the first command that needs root.
export function nodeUnsupported(): string | undefined {
  if (process.platform !== "linux") {
    return `the test node needs Linux (containerd, runc, iptables), not ${process.platform}`;
  }
  if (process.getuid?.() !== 0) {
    return "the test node needs root: it runs containerd, a kubelet, kube-proxy and iptables (CI runs as root)";
  }
  return undefined;
}

// Kubeconfig files of the test cluster: token users, the cluster's CA inlined. Written as JSON,
// which is YAML too, so kubectl, helm, client-go and @kubernetes/client-node all read them.
import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";

export interface ClusterCredentials {
  server: string;
  /** PEM of the CA that signed the API server's certificate. */
  ca: string;
  token: string;
}

export function writeKubeconfig(file: string, user: string, credentials: ClusterCredentials): void {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "test",
        cluster: {
          server: credentials.server,
          "certificate-authority-data": Buffer.from(credentials.ca).toString("base64"),
        },
      },
    ],
    users: [{ name: user, user: { token: credentials.token } }],
    contexts: [{ name: "test", context: { cluster: "test", user, namespace: "default" } }],
    "current-context": "test",
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

interface KubeconfigFile {
  "current-context"?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: {
    name: string;
    cluster: {
      server: string;
      "certificate-authority-data"?: string;
      "certificate-authority"?: string;
    };
  }[];
  users?: { name: string; user: { token?: string } }[];
}

/** Reads the current context of a token kubeconfig (the kind this test bed writes). */
export function readKubeconfig(file: string): ClusterCredentials {
  const config = parse(readFileSync(file, "utf8")) as KubeconfigFile;
  const context = config.contexts?.find((entry) => entry.name === config["current-context"]);
  const cluster = config.clusters?.find((entry) => entry.name === context?.context.cluster);
  const user = config.users?.find((entry) => entry.name === context?.context.user);
  if (cluster === undefined || user?.user.token === undefined) {
    throw new Error(`${file}: the current context needs a cluster and a token user`);
  }
  const inline = cluster.cluster["certificate-authority-data"];
  const path = cluster.cluster["certificate-authority"];
  const ca =
    inline !== undefined
      ? Buffer.from(inline, "base64").toString("utf8")
      : path !== undefined
        ? readFileSync(path, "utf8")
        : undefined;
  if (ca === undefined) throw new Error(`${file}: the cluster names no certificate authority`);
  return { server: cluster.cluster.server, ca, token: user.user.token };
}

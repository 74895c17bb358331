// The cluster's certificates, made with openssl: a CA, the API server's serving certificate (for
// its address, 127.0.0.1 and the in-cluster names) and the service-account signing key. Clients verify the API
// server against the CA, as pods do with their service account's ca.crt.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { kubernetesServiceIp } from "./node-network.ts";

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

export function createPki(directory: string, address: string): Pki {
  const file = (name: string): string => join(directory, name);
  const pki: Pki = {
    caCert: file("ca.crt"),
    caKey: file("ca.key"),
    servingCert: file("apiserver.crt"),
    servingKey: file("apiserver.key"),
    serviceAccountKey: file("sa.key"),
    serviceAccountPublicKey: file("sa.pub"),
  };
  // An empty [req] section keeps openssl from reading the machine's openssl.cnf defaults.
  const config = file("openssl.cnf");
  writeFileSync(config, "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n");
  const newEcKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  };
  openssl(
    ...["req", "-x509", "-new", ...newEcKey, "-config", config, "-days", "3650"],
    ...["-subj", "/CN=async-enrichment-test-ca", "-keyout", pki.caKey, "-out", pki.caCert],
    ...["-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  );
  const names = [
    "IP:127.0.0.1",
    ...(address === "127.0.0.1" ? [] : [`IP:${address}`]),
    `IP:${kubernetesServiceIp}`,
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
  ];
  openssl(
    ...["req", "-x509", "-new", ...newEcKey, "-config", config, "-days", "365"],
    ...["-subj", "/CN=kube-apiserver", "-CA", pki.caCert, "-CAkey", pki.caKey],
    ...["-keyout", pki.servingKey, "-out", pki.servingCert],
    ...["-addext", "basicConstraints=critical,CA:FALSE"],
    ...["-addext", "keyUsage=critical,digitalSignature"],
    ...["-addext", "extendedKeyUsage=serverAuth"],
    ...["-addext", `subjectAltName=${names.join(",")}`],
  );
  // ES256 service-account tokens: the API server signs with the private key, verifies with the
  // public one; the controller manager signs legacy token Secrets with the same private key.
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  writeFileSync(pki.serviceAccountKey, privateKey.export({ type: "sec1", format: "pem" }));
  writeFileSync(pki.serviceAccountPublicKey, publicKey.export({ type: "spki", format: "pem" }));
  return pki;
}

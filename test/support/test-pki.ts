// Certificates for TLS tests, made with openssl at test time (no key is checked in): CAs, and
// server or client certificates they sign, each as PEM text.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Issued {
  cert: string;
  key: string;
}

export interface TestCa extends Issued {
  /** A server certificate for these subject alternative names (DNS:x, IP:y). */
  server(names: string[], days?: number): Issued;
  /** A client certificate with this common name. */
  client(commonName: string): Issued;
}

const newEcKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

export function createTestCa(name: string): TestCa {
  const directory = mkdtempSync(join(tmpdir(), "aej-pki-"));
  // An empty [req] section keeps openssl from reading the machine's openssl.cnf defaults.
  const config = join(directory, "openssl.cnf");
  writeFileSync(config, "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n");
  let serial = 0;
  const read = (base: string): Issued => ({
    cert: readFileSync(`${base}.crt`, "utf8"),
    key: readFileSync(`${base}.key`, "utf8"),
  });
  const caBase = join(directory, "ca");
  openssl(
    ...["req", "-x509", "-new", ...newEcKey, "-config", config, "-days", "2"],
    ...["-subj", `/CN=${name}`, "-keyout", `${caBase}.key`, "-out", `${caBase}.crt`],
    ...["-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  );
  const issue = (commonName: string, extensions: string[], days: number): Issued => {
    const base = join(directory, `leaf-${String(++serial)}`);
    openssl(
      ...["req", "-x509", "-new", ...newEcKey, "-config", config, "-days", String(days)],
      ...["-subj", `/CN=${commonName}`, "-CA", `${caBase}.crt`, "-CAkey", `${caBase}.key`],
      ...["-keyout", `${base}.key`, "-out", `${base}.crt`],
      ...["-addext", "basicConstraints=critical,CA:FALSE"],
      ...["-addext", "keyUsage=critical,digitalSignature"],
      ...extensions.flatMap((extension) => ["-addext", extension]),
    );
    return read(base);
  };
  return {
    ...read(caBase),
    server: (names, days = 1) =>
      issue(
        names[0]?.replace(/^\w+:/, "") ?? "server",
        ["extendedKeyUsage=serverAuth", `subjectAltName=${names.join(",")}`],
        days,
      ),
    client: (commonName) => issue(commonName, ["extendedKeyUsage=clientAuth"], 1),
  };
}

// Certificates for TLS tests, made with openssl at test time (no key is checked in): CAs, and
// server or client certificates they sign, each as PEM text.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { temporaryDirectory } from "./temporary-directory.ts";

export interface Issued {
  cert: string;
  key: string;
}

export interface TestCa extends Issued {
  /** A server certificate for these subject alternative names (DNS:x, IP:y). */
  server(names: string[], days?: number): Issued;
  /** A client certificate with this common name. */
  client(commonName: string): Issued;
  /** A server certificate for these names that expired in 2020. */
  expiredServer(names: string[]): Issued;
}

const newEcKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

export function createTestCa(name: string): TestCa {
  const directory = temporaryDirectory("aej-pki-");
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
  // `openssl ca` is the one openssl command that takes dates in the past; it wants its database.
  const expired = (names: string[]): Issued => {
    const base = join(directory, `expired-${String(++serial)}`);
    const caConfig = join(directory, "ca.cnf");
    writeFileSync(join(directory, "index.txt"), "");
    writeFileSync(join(directory, "serial"), "1000\n");
    writeFileSync(
      caConfig,
      `[ca]\ndefault_ca = local\n[local]\ndatabase = ${directory}/index.txt\nnew_certs_dir = ${directory}\nserial = ${directory}/serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\nunique_subject = no\n[any]\ncommonName = supplied\n`,
    );
    openssl(
      ...["req", "-new", ...newEcKey, "-config", config, "-subj", "/CN=expired"],
      ...["-addext", `subjectAltName=${names.join(",")}`, "-keyout", `${base}.key`],
      ...["-out", `${base}.csr`],
    );
    openssl(
      ...["ca", "-batch", "-notext", "-config", caConfig, "-cert", `${caBase}.crt`],
      ...["-keyfile", `${caBase}.key`, "-in", `${base}.csr`, "-out", `${base}.crt`],
      ...["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"],
    );
    return read(base);
  };
  return {
    ...read(caBase),
    expiredServer: expired,
    server: (names, days = 1) =>
      issue(
        names[0]?.replace(/^\w+:/, "") ?? "server",
        ["extendedKeyUsage=serverAuth", `subjectAltName=${names.join(",")}`],
        days,
      ),
    client: (commonName) => issue(commonName, ["extendedKeyUsage=clientAuth"], 1),
  };
}

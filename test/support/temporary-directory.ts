// A temporary directory that is removed when the test process exits: the tests write private keys
// and certificates into them, which must not pile up in the machine's temp folder.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function temporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  process.once("exit", () => {
    rmSync(directory, { recursive: true, force: true });
  });
  return directory;
}

// The Secret that jobs on the test cluster name in spec.aws.credentialsSecretRef: the Kinesis
// emulator's placeholder credentials (it accepts any signed request; nothing secret).
import { emulatorCredentials } from "../../demo/kinesis-emulator.ts";

export const emulatorSecretName = "emulator-credentials";

/** Creates it in kubectl's namespace. */
export async function createEmulatorSecret(
  kubectl: (...args: string[]) => Promise<string>,
): Promise<void> {
  await kubectl(
    "create",
    "secret",
    "generic",
    emulatorSecretName,
    `--from-literal=AWS_ACCESS_KEY_ID=${emulatorCredentials.accessKeyId}`,
    `--from-literal=AWS_SECRET_ACCESS_KEY=${emulatorCredentials.secretAccessKey}`,
  );
}

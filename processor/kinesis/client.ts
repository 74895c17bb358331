// The Kinesis client. HTTP/1.1 with keep-alive: the SDK's default HTTP/2 handler fails against the
// local emulator's plain port, and HTTP/1.1 serves the real service just as well.
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

export interface KinesisClientOptions {
  region: string;
  /** LocalStack or the local emulator; the real service when absent. */
  endpoint?: string | undefined;
  /**
   * Only for emulators and tests: in a cluster, credentials come from the pod's identity (IRSA,
   * EKS Pod Identity) or from environment variables filled from a Secret, through the SDK's chain.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  maxSockets?: number;
}

export function createKinesisClient(options: KinesisClientOptions): KinesisClient {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 50 };
  return new KinesisClient({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: 5_000,
      requestTimeout: 30_000,
    }),
  });
}

/** The request parameter naming a stream: StreamARN for an ARN, StreamName otherwise. */
export function streamParameter(stream: string): { StreamARN: string } | { StreamName: string } {
  return stream.startsWith("arn:") ? { StreamARN: stream } : { StreamName: stream };
}

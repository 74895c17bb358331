// A small HTTP proxy between a processor and the Kinesis emulator that injects the service's own
// faults, in its wire format (JSON 1.1 errors with __type, PutRecords entries with ErrorCode), so
// the processor's handling of them is tested against the real client and the real emulator.
import { Agent, createServer, request as forward, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export type KinesisErrorName =
  | "ProvisionedThroughputExceededException"
  | "ExpiredIteratorException"
  | "LimitExceededException"
  | "InternalFailure";

/** What the proxy does with one request. */
export type KinesisFault =
  /** Answers with the service's error instead of forwarding. */
  | { error: KinesisErrorName }
  /** Closes the connection without forwarding: the request never reached the service. */
  | { reset: "before" }
  /** Forwards, then closes the connection without the answer: the service did the work. */
  | { reset: "after" }
  /** PutRecords: the entries at these indexes fail with ProvisionedThroughputExceededException and are not written. */
  | { failEntries: readonly number[] };

export interface KinesisCall {
  /** The operation, from X-Amz-Target: "GetRecords", "PutRecords", ... */
  operation: string;
  body: Record<string, unknown>;
  /** How many calls of this operation came before this one. */
  index: number;
}

const errorStatus: Record<KinesisErrorName, number> = {
  ProvisionedThroughputExceededException: 400,
  ExpiredIteratorException: 400,
  LimitExceededException: 400,
  InternalFailure: 500,
};

interface PutRecordsEntry {
  Data: string;
  PartitionKey: string;
}
interface PutRecordsResultEntry {
  SequenceNumber?: string;
  ShardId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

async function readBody(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startKinesisFaultProxy(
  target: string,
  plan: (call: KinesisCall) => KinesisFault | undefined,
) {
  const targetUrl = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const counts = new Map<string, number>();
  const injected: { operation: string; fault: KinesisFault }[] = [];

  const send = (
    incoming: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...incoming.headers, host: targetUrl.host, "content-length": body.length };
      const outgoing = forward(
        {
          host: targetUrl.hostname,
          port: targetUrl.port,
          path: incoming.url,
          method: incoming.method,
          headers,
          agent,
        },
        (answer) => {
          readBody(answer).then((answerBody) => {
            const answerHeaders: Record<string, string> = {};
            for (const [name, value] of Object.entries(answer.headers)) {
              if (typeof value === "string" && name !== "content-length")
                answerHeaders[name] = value;
            }
            resolve({ status: answer.statusCode ?? 500, headers: answerHeaders, body: answerBody });
          }, reject);
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });

  /** Writes only the entries not failed, then answers as the service does for a partial failure. */
  const partialPut = async (
    incoming: IncomingMessage,
    body: Record<string, unknown>,
    failed: ReadonlySet<number>,
  ) => {
    const entries = body.Records as PutRecordsEntry[];
    const kept = entries.filter((_, index) => !failed.has(index));
    const written =
      kept.length === 0
        ? []
        : (
            JSON.parse(
              (
                await send(incoming, Buffer.from(JSON.stringify({ ...body, Records: kept })))
              ).body.toString(),
            ) as { Records: PutRecordsResultEntry[] }
          ).Records;
    let next = 0;
    const results = entries.map((_, index): PutRecordsResultEntry => {
      if (!failed.has(index)) return written[next++] ?? {};
      return {
        ErrorCode: "ProvisionedThroughputExceededException",
        ErrorMessage:
          "Rate exceeded for shard shardId-000000000000 in stream under account 000000000000.",
      };
    });
    return {
      FailedRecordCount: results.filter((result) => result.ErrorCode !== undefined).length,
      Records: results,
    };
  };

  const server = createServer((incoming, response) => {
    void (async () => {
      const raw = await readBody(incoming);
      const operation = String(incoming.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
      const body = (raw.length === 0 ? {} : JSON.parse(raw.toString())) as Record<string, unknown>;
      const index = counts.get(operation) ?? 0;
      counts.set(operation, index + 1);
      const fault = plan({ operation, body, index });
      if (fault !== undefined) injected.push({ operation, fault });
      const json = { "content-type": "application/x-amz-json-1.1" };
      if (fault === undefined) {
        const answer = await send(incoming, raw);
        response.writeHead(answer.status, answer.headers).end(answer.body);
      } else if ("error" in fault) {
        response
          .writeHead(errorStatus[fault.error], { ...json, "x-amzn-errortype": `${fault.error}:` })
          .end(JSON.stringify({ __type: fault.error, message: `injected ${fault.error}` }));
      } else if ("reset" in fault) {
        if (fault.reset === "after") await send(incoming, raw);
        incoming.socket.destroy();
      } else {
        const answer = await partialPut(incoming, body, new Set(fault.failEntries));
        response.writeHead(200, json).end(JSON.stringify(answer));
      }
    })().catch((error: unknown) => {
      response.writeHead(502).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    /** Every fault injected, in order. */
    injected,
    /** Calls seen per operation. */
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

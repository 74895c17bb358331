// One request through undici's dispatcher API, its answer collected into one Buffer. The caller
// reads every answer whole, and pool.request's Readable body stream with its AsyncResource, and
// an AbortSignal's listener, cost more CPU per request than everything else the client does
// (measured against the Go endpoint of the peer bench at 0 ms: about 45 µs of CPU per request
// through dispatch, about 80 µs through request and arrayBuffer).
import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";

export interface BufferedResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface BufferedRequest {
  readonly response: Promise<BufferedResponse>;
  /** Ends the request (queued, being sent or being answered): the response rejects with `reason`. */
  abort(reason: Error): void;
}

class BufferingHandler implements Dispatcher.DispatchHandler, BufferedRequest {
  readonly response: Promise<BufferedResponse>;
  private resolve!: (response: BufferedResponse) => void;
  private reject!: (error: Error) => void;
  private controller: Dispatcher.DispatchController | undefined;
  private abortedWith: Error | undefined;
  private statusCode = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];

  private readonly explain: ((error: Error) => Error) | undefined;

  constructor(explain: ((error: Error) => Error) | undefined) {
    this.explain = explain;
    this.response = new Promise<BufferedResponse>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  abort(reason: Error): void {
    if (this.abortedWith !== undefined) return;
    this.abortedWith = reason;
    // Not yet started (waiting in the pool's queue): aborted as soon as it starts.
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortedWith !== undefined) controller.abort(this.abortedWith);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    // 1xx answers are informational; the final answer follows.
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    const { chunks } = this;
    this.resolve({
      statusCode: this.statusCode,
      headers: this.headers,
      body: chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks),
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.reject(this.explain === undefined ? error : this.explain(error));
  }
}

/**
 * Sends the request; errors (refused, reset, too large, aborted) reject the response, as
 * `explain` words them when given.
 */
export function bufferedRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  explain?: (error: Error) => Error,
): BufferedRequest {
  const handler = new BufferingHandler(explain);
  dispatcher.dispatch(options, handler);
  return handler;
}

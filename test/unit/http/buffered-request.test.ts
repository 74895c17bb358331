// A request through undici's dispatcher with its answer collected whole: a body written in many
// chunks arrives as one Buffer, and an abort ends a request wherever it is (waiting in the pool's
// queue, or waiting for the answer), rejecting with the reason given.
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Pool } from "undici";
import { bufferedRequest } from "../../../processor/http/buffered-request.ts";

describe("buffered request", () => {
  const hanging = new Set<ServerResponse>();
  let seen: string[] = [];
  const server = createServer((request, response) => {
    seen.push(request.url ?? "");
    if (request.url === "/hang") {
      hanging.add(response);
      return;
    }
    response.writeHead(201, { "retry-after": "3" });
    // Ten writes with a turn of the event loop between them: several chunks on the client.
    let part = 0;
    const write = (): void => {
      if (part === 10) {
        response.end();
        return;
      }
      response.write(`part-${part++};`);
      setImmediate(write);
    };
    write();
  });
  let origin = "";
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const response of hanging) response.destroy();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  });

  test("a body written in many chunks arrives whole, with the status and the headers", async () => {
    const pool = new Pool(origin, { connections: 1 });
    const { statusCode, headers, body } = await bufferedRequest(pool, {
      path: "/chunks",
      method: "POST",
      body: Buffer.from("{}"),
    }).response;
    await pool.close();
    assert.equal(statusCode, 201);
    assert.equal(headers["retry-after"], "3");
    assert.equal(
      body.toString(),
      Array.from({ length: 10 }, (_, part) => `part-${part};`).join(""),
    );
  });

  test("an abort ends a request waiting for its answer and one still queued behind it", async () => {
    seen = [];
    const pool = new Pool(origin, { connections: 1 });
    const answering = bufferedRequest(pool, { path: "/hang", method: "GET" });
    const queued = bufferedRequest(pool, { path: "/queued", method: "GET" });
    while (!seen.includes("/hang")) await new Promise((resolve) => setImmediate(resolve));
    queued.abort(new Error("queued timed out"));
    answering.abort(new Error("answer timed out"));
    await assert.rejects(answering.response, /answer timed out/);
    await assert.rejects(queued.response, /queued timed out/);
    await pool.destroy();
    assert.deepEqual(seen, ["/hang"], "the queued request never reached the server");
  });
});

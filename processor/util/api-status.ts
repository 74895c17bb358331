// The HTTP status of a failed Kubernetes API call, as @kubernetes/client-node's ApiException
// carries it in `code`; undefined for errors that never reached the API server.
export const apiStatusCode = (error: unknown): number | undefined => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
};

/** The call's answer, or undefined when the object does not exist (404); other errors rethrown. */
export async function unlessNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (apiStatusCode(error) === 404) return undefined;
    throw error;
  }
}

/**
 * What the API server said of a failed call: its Status message (client-node's ApiException
 * carries the Status in `body`, as JSON text), else the error's own message. The exception's own
 * message also holds the response headers, which differ on every call.
 */
export function apiErrorMessage(error: unknown): string {
  const body = (error as { body?: unknown } | undefined)?.body;
  const status: unknown = typeof body === "string" ? parseJson(body) : body;
  const message = (status as { message?: unknown } | undefined)?.message;
  if (typeof message === "string") return message;
  return error instanceof Error ? error.message : String(error);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

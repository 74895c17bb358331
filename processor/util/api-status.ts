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

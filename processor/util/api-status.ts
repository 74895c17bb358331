// The HTTP status of a failed Kubernetes API call, as @kubernetes/client-node's ApiException
// carries it in `code`; undefined for errors that never reached the API server.
export const apiStatusCode = (error: unknown): number | undefined => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
};

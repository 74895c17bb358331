// Bounds a Lease API call: client-node sets no timeout, and one hung request would stop every
// renewal behind it. The request itself may still land; the next write's resourceVersion tells.
export async function bounded<T>(call: Promise<T>, deadlineMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} got no answer within ${String(deadlineMs)} ms`));
    }, deadlineMs);
  });
  try {
    return await Promise.race([call, late]);
  } finally {
    clearTimeout(timer);
  }
}

export const statusCode = (error: unknown): number | undefined =>
  (error as { code?: number } | undefined)?.code;

// Names of the Kinesis errors the processor reacts to; anything else is retried with backoff and
// reported, since a network blip or a restarting endpoint must not lose the shard.

const throttlingNames = new Set([
  "ProvisionedThroughputExceededException",
  "LimitExceededException",
  "ThrottlingException",
  "KMSThrottlingException",
]);

export function errorName(error: unknown): string {
  if (typeof error === "object" && error !== null && "name" in error) {
    return String(error.name);
  }
  return "Error";
}

export function isThrottling(error: unknown): boolean {
  return throttlingNames.has(errorName(error));
}

export function isExpiredIterator(error: unknown): boolean {
  return errorName(error) === "ExpiredIteratorException";
}

export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `${errorName(error)}: ${message}`;
}

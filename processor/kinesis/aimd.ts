// Send-rate control for the sink: additive increase while PutRecords succeeds, multiplicative
// decrease when the stream throttles, as TCP does. Unlimited until the first throttle, so a
// stream with room is never slowed down.

export interface SendRate {
  /** Records per second allowed, or undefined for no limit. */
  recordsPerSecond: number | undefined;
}

export interface AimdPolicy {
  /** Records per second added after each batch written without throttling. */
  increasePerBatch: number;
  /** Factor applied on throttling. */
  decreaseFactor: number;
  minRecordsPerSecond: number;
}

export const defaultAimd: AimdPolicy = {
  increasePerBatch: 50,
  decreaseFactor: 0.5,
  minRecordsPerSecond: 10,
};

export function onThrottled(
  rate: SendRate,
  observedPerSecond: number,
  policy = defaultAimd,
): SendRate {
  const current = rate.recordsPerSecond ?? Math.max(observedPerSecond, policy.minRecordsPerSecond);
  return {
    recordsPerSecond: Math.max(policy.minRecordsPerSecond, current * policy.decreaseFactor),
  };
}

export function onWritten(rate: SendRate, policy = defaultAimd): SendRate {
  if (rate.recordsPerSecond === undefined) return rate;
  return { recordsPerSecond: rate.recordsPerSecond + policy.increasePerBatch };
}

/** How long a batch of `records` must take at this rate, in milliseconds. */
export function sendTimeMs(rate: SendRate, records: number): number {
  return rate.recordsPerSecond === undefined ? 0 : (records / rate.recordsPerSecond) * 1000;
}

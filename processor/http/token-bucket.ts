// A token bucket whose rate and depth can change while it runs: a pod's share of the job's rate
// limit moves as it gains and loses shards. Pure: time comes from the clock it is given
// (monotonic milliseconds), so a test drives it with any sequence of moments.
//
// Tokens never exceed the depth and only grow at the rate, so over any window W the bucket
// admits at most depth(start) + the integral of the rate over W. A lowered depth drops the tokens
// above it at once; a raised one adds none (they accrue at the rate). A new bucket starts empty.

export interface TokenBucket {
  /** Changes the rate (tokens per second) and depth from now on. */
  set(rate: number, depth: number): void;
  /** Takes one token if there is one. */
  tryTake(): boolean;
  /** Milliseconds until a token is there at the current rate; Infinity while the rate is 0. */
  msUntilToken(): number;
  readonly rate: number;
  readonly depth: number;
}

export function createTokenBucket(now: () => number): TokenBucket {
  let rate = 0;
  let depth = 0;
  let tokens = 0;
  let at = now();

  const refill = (): void => {
    const moment = now();
    if (moment > at) tokens = Math.min(depth, tokens + (rate * (moment - at)) / 1000);
    at = moment;
  };

  return {
    set(newRate, newDepth) {
      if (!(newRate >= 0 && newDepth >= 0 && Number.isFinite(newRate + newDepth))) {
        throw new RangeError(
          `expected a rate and depth of at least 0, got ${newRate}, ${newDepth}`,
        );
      }
      refill();
      rate = newRate;
      depth = newDepth;
      tokens = Math.min(tokens, depth);
    },
    tryTake() {
      refill();
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    msUntilToken() {
      refill();
      if (tokens >= 1) return 0;
      // A depth below one token never fills to one: no token comes.
      return rate > 0 && depth >= 1 ? ((1 - tokens) * 1000) / rate : Infinity;
    },
    get rate() {
      return rate;
    },
    get depth() {
      return depth;
    },
  };
}

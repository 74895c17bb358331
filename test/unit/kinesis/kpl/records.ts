// Seeded user records for the KPL tests: binary data, a few partition keys, some repeated.
import { seededRandom } from "../../seeded-random.ts";

export interface TestRecord {
  data: Uint8Array;
  partitionKey: string;
  explicitHashKey?: string | undefined;
}

export function randomRecords(
  seed: number,
  count: number,
  options: { keys: number; maxDataBytes: number; explicitHashKeys?: boolean },
): TestRecord[] {
  const random = seededRandom(seed);
  const below = (limit: number): number => Math.floor(random() * limit);
  return Array.from({ length: count }, (_, index) => {
    const data = Uint8Array.from({ length: below(options.maxDataBytes + 1) }, () => below(256));
    const partitionKey = `key-${below(options.keys)}-ü`;
    return options.explicitHashKeys === true
      ? { data, partitionKey, explicitHashKey: `${BigInt(index) * 7919n * 10n ** 30n}` }
      : { data, partitionKey };
  });
}

/** Every byte value, twice, in both orders. */
export const everyByte: Uint8Array = Uint8Array.from({ length: 512 }, (_, index) =>
  index < 256 ? index : 511 - index,
);

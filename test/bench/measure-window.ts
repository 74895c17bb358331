// Records counted and process CPU time taken over one window after a warm-up, read at the same
// two instants, so records/s and CPU microseconds per record come from the same records. Both
// sides of a comparison count this way, each in a process of its own, so CPU time is theirs only
// (every thread of the process: the event loop, the GC's helpers, libuv's pool).

export interface Window {
  perSecond: number;
  cpuMicrosPerRecord: number;
  records: number;
}

export interface WindowCounter {
  /** Counts one record that reached the end of its path. */
  count(): void;
  /** True once the window has closed: the load may stop. */
  readonly over: boolean;
  /** Settles when the window closes. */
  readonly result: Promise<Window>;
}

export function measureWindow(warmupMs: number, durationMs: number): WindowCounter {
  let counted = 0;
  let over = false;
  const result = new Promise<Window>((resolve) => {
    setTimeout(() => {
      const from = { at: performance.now(), cpu: process.cpuUsage(), counted };
      setTimeout(() => {
        const cpu = process.cpuUsage(from.cpu);
        const records = counted - from.counted;
        over = true;
        resolve({
          perSecond: records / ((performance.now() - from.at) / 1000),
          cpuMicrosPerRecord: (cpu.user + cpu.system) / records,
          records,
        });
      }, durationMs);
    }, warmupMs);
  });
  return {
    count: () => {
      counted++;
    },
    get over() {
      return over;
    },
    result,
  };
}

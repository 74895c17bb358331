// Crash-loop back-off as the kubelet does it: the first restart is immediate, then the delay starts
// at the base (10 s) and doubles up to a cap (30 x base, 300 s by default). Tests shorten the base
// with AEJ_KUBELET_BACKOFF_MS or the kubelet's backoffBaseMs option.

export const defaultBackoffBaseMs = 10_000;

export function restartDelayMs(restartCount: number, baseMs: number): number {
  if (restartCount === 0) return 0;
  return Math.min(baseMs * 2 ** (restartCount - 1), baseMs * 30);
}

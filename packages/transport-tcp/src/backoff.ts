/**
 * Delay before reconnect attempt number `failures` (1 after the first failure): exponential
 * from `minDelayMs`, capped at `maxDelayMs`, with "equal jitter" — half of the step fixed,
 * half drawn from `random` — so that replicas that lost the same peer at the same moment do
 * not come back in lockstep, yet the delay never collapses to zero. Always within
 * [minDelayMs, maxDelayMs].
 */
export function reconnectDelayMs(
  failures: number,
  bounds: { readonly minDelayMs: number; readonly maxDelayMs: number },
  random: () => number,
): number {
  const exponent = Math.min(Math.max(failures, 1), 31)
  const step = Math.min(bounds.maxDelayMs, bounds.minDelayMs * 2 ** exponent)
  const jittered = step / 2 + (random() * step) / 2
  return Math.min(bounds.maxDelayMs, Math.max(bounds.minDelayMs, jittered))
}

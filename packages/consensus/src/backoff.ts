/**
 * The one jittered backoff of the project (client rounds, the simulator's clients, transport
 * reconnects): the pause after attempt `round` (0 for the first) is exponential from `minMs`,
 * capped at `maxMs`, with "equal jitter" (half of the step fixed, half drawn from `random`) so
 * that clients or replicas that lost the same peer at the same moment do not come back in
 * lockstep, yet the pause never collapses to zero. Always within [minMs, maxMs]. Pure: the
 * randomness is the caller's.
 */
export function backoffMs(round: number, bounds: { readonly minMs: number; readonly maxMs: number }, random: () => number): number {
  const exponent = Math.min(Math.max(round, 0), 30)
  const step = Math.min(bounds.maxMs, bounds.minMs * 2 ** exponent)
  const jittered = step / 2 + (random() * step) / 2
  return Math.min(bounds.maxMs, Math.max(bounds.minMs, jittered))
}

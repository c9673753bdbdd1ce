import type { Rng } from '../random.js'

/** Fisher–Yates, in place, drawing from `rng` (so a run replays from its seed). */
export function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const tmp = xs[i]!
    xs[i] = xs[j]!
    xs[j] = tmp
  }
  return xs
}

import type { ReplicaGroup } from './replica-group.js'

/** What one attempt at one replica told the caller. */
export type AttemptVerdict<A = never> =
  | { readonly kind: 'done' }
  /** Not the leader; `hint` names the replica id it believes leads, `hintAddress` where it is
   * (a replica the caller never heard of: the group gains it). */
  | { readonly kind: 'not-leader'; readonly hint: string | null; readonly hintAddress?: A }
  /** Answered TIMEOUT, UNAVAILABLE or WRONG_SHARD, or the attempt was lost or unreachable. */
  | { readonly kind: 'failed' }

/**
 * One round of a call over a group: the believed leader first, then each other replica,
 * following NOT_LEADER hints. The decisions every caller of a group makes — the real client
 * and the simulator's clients alike — so that a routing bug is one the fuzzer can find.
 *
 * A replica named leader by another may be tried once more in the round: its earlier attempt
 * may have lost only its answer (a dropped reply), and the hint says it still leads. Bounded:
 * each replica is tried at most twice per round.
 */
export class CallRound<A> {
  readonly #group: ReplicaGroup<A>
  readonly #queue: A[]
  readonly #tried = new Set<string>()
  readonly #rehinted = new Set<string>()
  readonly #tracksLeader: boolean

  /** `only`: ask this one replica. `tracksLeader`: answers say who leads (false for stale reads). */
  constructor(group: ReplicaGroup<A>, options: { readonly only?: A; readonly tracksLeader?: boolean } = {}) {
    this.#group = group
    this.#queue = options.only !== undefined ? [options.only] : group.roundOrder()
    this.#tracksLeader = options.tracksLeader ?? true
  }

  /** The replica to try next, or null when the round is over. */
  next(): A | null {
    while (this.#queue.length > 0) {
      const a = this.#queue.shift()!
      const key = this.#group.key(a)
      if (this.#tried.has(key)) continue
      this.#tried.add(key)
      return a
    }
    return null
  }

  /** What the attempt at `a` told us; shapes the rest of the round and the group's beliefs. */
  report(a: A, verdict: AttemptVerdict<A>): void {
    const group = this.#group
    switch (verdict.kind) {
      case 'done':
        if (this.#tracksLeader) group.believeLeader(a)
        return
      case 'failed':
        group.doubt(a)
        return
      case 'not-leader': {
        group.doubt(a)
        if (verdict.hint !== null && verdict.hintAddress !== undefined && group.addressOf(verdict.hint) === null) group.add(verdict.hintAddress, verdict.hint)
        const hinted = verdict.hint === null ? null : group.addressOf(verdict.hint)
        if (hinted === null) return
        group.believeLeader(hinted)
        const key = group.key(hinted)
        if (this.#tried.has(key) && !this.#rehinted.has(key) && key !== group.key(a)) {
          this.#rehinted.add(key)
          this.#tried.delete(key)
        }
        this.#queue.unshift(hinted)
        return
      }
      default: {
        const never: never = verdict
        throw new Error(`unexpected verdict ${JSON.stringify(never)}`)
      }
    }
  }
}

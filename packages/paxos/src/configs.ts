import { assert, initialMembership, InvariantError, type Membership, type NodeId, type Snapshot } from '@kv/consensus'
import type { PaxosState } from './state.js'

/** A chosen membership and the slot its entry was chosen at (-Infinity: in force from slot 1). */
export interface ChosenConfig {
  readonly slot: number
  readonly membership: Membership
}

/**
 * The chosen memberships that may still govern a slot above the chosen watermark, under the
 * alpha rule (Lamport, "Reconfiguring a State Machine", §2; "Paxos Made Moderately Complex"
 * §5): **a membership chosen at slot i governs every slot from i + α on**, until the next one
 * takes over. So the membership of slot j is fixed once every slot up to j − α is chosen, and
 * a leader, which proposes in slot j only then (see `window.ts`), always knows whose quorum
 * chooses j. Only chosen entries are recorded here: slots above the watermark may still change.
 */
export class Configs {
  private list: ChosenConfig[]
  /** Chosen slots up to here were looked at for membership entries (`noteChosen`). */
  scannedTo: number

  private constructor(readonly alpha: number, list: ChosenConfig[], scannedTo: number) {
    assert(list.length > 0, 'no membership at all')
    this.list = list
    this.scannedTo = scannedTo
  }

  static initial(members: readonly NodeId[], alpha: number): Configs {
    return new Configs(alpha, [{ slot: -Infinity, membership: initialMembership(members) }], 0)
  }

  /**
   * From a snapshot's membership fields. A change chosen at `membershipIndex` within α of the
   * snapshot's index does not govern the first slots after it yet: the previous membership
   * does (the snapshot carries it). A snapshot without membership (from before membership
   * changes existed) keeps the initial membership.
   */
  static fromSnapshot(snapshot: Snapshot, members: readonly NodeId[], alpha: number): Configs {
    const latest = snapshot.membership
    if (latest === undefined) return new Configs(alpha, [{ slot: -Infinity, membership: initialMembership(members) }], snapshot.index)
    const slot = snapshot.membershipIndex === undefined || snapshot.membershipIndex === 0 ? -Infinity : snapshot.membershipIndex
    // Without the previous one, the change was the group's first: the initial membership.
    const previous = snapshot.previousMembership ?? initialMembership(members)
    const list: ChosenConfig[] = slot + alpha > snapshot.index + 1
      ? [{ slot: -Infinity, membership: previous }, { slot, membership: latest }]
      : [{ slot, membership: latest }]
    return new Configs(alpha, list, snapshot.index)
  }

  /**
   * The membership governing `slot`: the latest chosen at a slot ≤ slot − α. Defined for
   * every slot up to the chosen watermark + α (a later change could still come below that).
   */
  forSlot(slot: number): Membership {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const c = this.list[i]!
      if (c.slot + this.alpha <= slot) return c.membership
    }
    throw new InvariantError(`no membership governs slot ${slot}`)
  }

  /** The latest chosen membership (it governs slots from its slot + α on). */
  latest(): ChosenConfig {
    return this.list.at(-1)!
  }

  /** The memberships governing some slot from `slot` on, oldest first. */
  governingFrom(slot: number): Membership[] {
    const out: Membership[] = []
    for (let i = this.list.length - 1; i >= 0; i--) {
      const c = this.list[i]!
      out.unshift(c.membership)
      if (c.slot + this.alpha <= slot) break
    }
    return out
  }

  add(slot: number, membership: Membership): void {
    assert(slot > (this.list.at(-1)?.slot ?? -Infinity), `membership chosen at ${slot} out of order`)
    this.list.push({ slot, membership })
  }

  /** The snapshot fields for a snapshot at `index` (see `Snapshot.membership`). */
  snapshotFields(index: number): Pick<Snapshot, 'membership' | 'membershipIndex' | 'previousMembership'> {
    let at = this.list.length - 1
    while (at > 0 && this.list[at]!.slot > index) at--
    const c = this.list[at]!
    const previous = at > 0 ? this.list[at - 1]!.membership : undefined
    return {
      membership: c.membership,
      membershipIndex: c.slot === -Infinity ? 0 : c.slot,
      ...(previous === undefined ? {} : { previousMembership: previous }),
    }
  }

  /** Slots up to `index` are compacted: forget what governs none above it. */
  pruneThrough(index: number): void {
    let keepFrom = 0
    for (let i = 0; i < this.list.length; i++) if (this.list[i]!.slot + this.alpha <= index + 1) keepFrom = i
    this.list = this.list.slice(keepFrom)
  }

  all(): readonly ChosenConfig[] {
    return this.list
  }
}

/** The watermark moved: record the memberships chosen up to it (the leader's, an acceptor's,
 * a learner's watermark alike; slots are looked at once). */
export function noteChosen(s: PaxosState): void {
  for (let slot = Math.max(s.configs.scannedTo, s.log.snapshotIndex) + 1; slot <= s.commitIndex; slot++) {
    const entry = s.log.get(slot)
    if (entry?.type === 'membership') s.configs.add(slot, entry.membership)
  }
  s.configs.scannedTo = Math.max(s.configs.scannedTo, s.commitIndex)
}

import type { ConsensusCore, CoreConfig, Entry, HardState, NotLeader, PeerMessage, Ready, Role, Snapshot, Status } from '../../types.js'
import { initialMembership } from '../../membership.js'

/** What a script may hand the shell in the next Ready. */
export interface ReadyPart {
  readonly hardState?: HardState
  readonly snapshot?: Snapshot
  readonly entries?: readonly Entry[]
  readonly committed?: readonly Entry[]
  readonly messagesNow?: readonly PeerMessage[]
  readonly messagesAfterPersist?: readonly PeerMessage[]
}

/**
 * A "core" that does whatever its script says on each tick: become leader, persist entries,
 * apply entries. Used to break one property on purpose and show the checkers catch it.
 */
export class ScriptedCore implements ConsensusCore {
  role: Role = 'follower'
  term = 0
  lastIndex = 0
  commitIndex = 0
  invariantBroken: string | null = null
  /** Types of the messages this core received, in order. */
  readonly received: string[] = []
  private ticks = 0
  private queued: ReadyPart[] = []

  constructor(
    readonly config: CoreConfig,
    private readonly script: (core: ScriptedCore, tick: number) => void,
  ) {}

  get id(): string {
    return this.config.id
  }

  emit(part: ReadyPart): void {
    this.queued.push(part)
    for (const e of part.entries ?? []) this.lastIndex = Math.max(this.lastIndex, e.index)
    for (const e of part.committed ?? []) this.commitIndex = Math.max(this.commitIndex, e.index)
  }

  tick(): void {
    this.ticks++
    this.script(this, this.ticks)
  }

  step(message: PeerMessage): void {
    this.received.push(message.type)
  }

  propose(): { type: 'not-leader'; leader: null } {
    return { type: 'not-leader', leader: null }
  }

  proposeMembership(): NotLeader {
    return { type: 'not-leader', leader: null }
  }

  readIndex(): null {
    return null
  }

  ready(): Ready | null {
    const part = this.queued.shift()
    if (part === undefined) return null
    return {
      hardState: part.hardState ?? null, snapshot: part.snapshot ?? null, truncateFrom: null,
      entries: part.entries ?? [], committed: part.committed ?? [], messagesNow: part.messagesNow ?? [],
      messagesAfterPersist: part.messagesAfterPersist ?? [], readStates: [],
    }
  }

  advance(): void {}

  status(): Status {
    return {
      id: this.id, role: this.role, term: this.term, leader: this.role === 'leader' ? this.id : null,
      commitIndex: this.commitIndex, lastIndex: this.lastIndex, appliedIndex: this.commitIndex, firstIndex: 1,
      membership: initialMembership([this.id]),
    }
  }

  compact(): void {}

  transferLeadership(): void {}

  checkInvariants(): void {
    if (this.invariantBroken !== null) throw new Error(this.invariantBroken)
  }
}

/** A factory whose cores all follow `script`; `created` collects every core it built. */
export function scripted(
  script: (core: ScriptedCore, tick: number) => void,
  created: ScriptedCore[] = [],
): (config: CoreConfig) => ConsensusCore {
  return (config) => {
    const core = new ScriptedCore(config, script)
    created.push(core)
    return core
  }
}

const encoder = new TextEncoder()

export function normal(index: number, term: number, text: string): Entry {
  return { type: 'normal', index, term, data: encoder.encode(text) }
}

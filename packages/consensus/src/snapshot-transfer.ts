import { assert } from './assert.js'
import { isMemberContexts, isMembership, type Membership } from './membership.js'
import type { Snapshot } from './types.js'

/**
 * Chunked snapshot transfer, shared by both cores (Raft paper §7: InstallSnapshot with
 * `offset` and `done`). A snapshot can be far larger than a transport frame, so a leader
 * sends it to a lagging follower as chunks of at most `chunkBytes`, a window of them at a
 * time, and the follower answers each chunk with the bytes it holds from offset 0 on (a
 * cumulative acknowledgement, as TCP's):
 *
 *   leader                                  follower
 *   chunk {offset 0, data[0..c)}      ──►   holds c              ──► ack {offset c}
 *   chunk {offset c, data[c..2c)}     ─╳    (lost)
 *   chunk {offset 2c, ...}            ──►   keeps it aside        ──► ack {offset c}   (again)
 *   chunk {offset 3c, ...}            ──►   keeps it aside        ──► ack {offset c}   (again)
 *   resend from c (not from 0)        ──►   holds 4c at once      ──► ack {offset 4c}
 *   chunk {offset k, ..., done}       ──►   whole snapshot: the core installs it (Ready.snapshot)
 *                                           and answers with its usual catch-up reply, after persist
 *
 * Pure bookkeeping, no I/O: the cores wrap these records in their own messages.
 */

/** The fields every chunk message carries, in both cores. */
export interface SnapshotChunk {
  /** The snapshot the chunk belongs to (its last index and that entry's term). */
  readonly snapshotIndex: number
  readonly snapshotTerm: number
  /** Where `data` starts in the snapshot's data, in bytes. */
  readonly offset: number
  readonly data: Uint8Array
  /** The last chunk: `offset + data.length` is the snapshot's size. */
  readonly done: boolean
  /** The snapshot's membership fields (`Snapshot.membership`, `membershipIndex`,
   * `previousMembership`, `memberContexts`), on every chunk: they are small, and the follower then needs no
   * particular chunk to know them. */
  readonly membership?: Membership
  readonly membershipIndex?: number
  readonly previousMembership?: Membership
  readonly memberContexts?: Readonly<Record<string, Uint8Array>>
}

type MembershipFields = Pick<Snapshot, 'membership' | 'membershipIndex' | 'previousMembership' | 'memberContexts'>

/** The membership fields `from` carries, without the absent ones (exactOptionalPropertyTypes). */
export function membershipFields(from: MembershipFields): MembershipFields {
  return {
    ...(from.membership === undefined ? {} : { membership: from.membership }),
    ...(from.membershipIndex === undefined ? {} : { membershipIndex: from.membershipIndex }),
    ...(from.previousMembership === undefined ? {} : { previousMembership: from.previousMembership }),
    ...(from.memberContexts === undefined ? {} : { memberContexts: from.memberContexts }),
  }
}

/** The follower's answer to a chunk that did not complete the snapshot. */
export interface SnapshotChunkAck {
  readonly snapshotIndex: number
  /** Bytes of that snapshot the follower holds, contiguous from 0: the next offset it needs. */
  readonly offset: number
  /** False when the follower is not assembling that snapshot (it restarted, or holds another
   * one) and could not use the chunk: the sender starts over from `offset` (0). */
  readonly accepted: boolean
}

/** Acknowledgements of one offset, beyond the first, that make the sender resend from it:
 * the chunk there was lost while later ones arrived (TCP's fast retransmit, with 2). */
export const DUPLICATE_ACKS_TO_RESEND = 2

/**
 * The leader's side of one transfer to one follower. At most `maxInflight` chunks are sent
 * and not yet acknowledged (pipelining, bounded like replication's window).
 *
 * Resumption: the follower's acknowledged offset is the resume point, never 0 unless the
 * follower lost what it held. The sender goes back to it (resending from there; the follower
 * kept what arrived after the gap, so its acknowledgement jumps ahead once the gap is filled)
 * when `DUPLICATE_ACKS_TO_RESEND` more acknowledgements name it, or at once when the follower
 * refuses a chunk; once per offset (later echoes of it are of chunks sent before). A window
 * that gets no new acknowledgement for `stallRounds` heartbeat rounds (the resent chunk or the
 * last one was lost too) is resent from the acknowledged offset.
 */
export class SnapshotSender {
  /** Next byte to send. */
  private next = 0
  /** Bytes the follower said it holds. */
  private acked = 0
  /** End offsets of the chunks sent and not acknowledged, oldest first. */
  private inflight: number[] = []
  /** The chunk with `done` went out since the last rewind. */
  private sentDone = false
  /** The offset of the acknowledgement that arrived last (it may be below `acked`: see onRound). */
  private lastAck = 0
  /** Acknowledgements of `acked` since it last moved. */
  private duplicateAcks = 0
  /** The offset the sender last went back to. */
  private resentFrom: number | null = null
  private progressedThisRound = false
  private stalledRounds = 0
  /** Chunks sent in all, and bytes of data in them (for tests and status). */
  chunksSent = 0
  bytesSent = 0

  constructor(
    readonly snapshot: Snapshot,
    private readonly chunkBytes: number,
    private readonly maxInflight: number,
    private readonly stallRounds: number,
  ) {
    assert(Number.isSafeInteger(chunkBytes) && chunkBytes >= 1, `chunk size ${chunkBytes} is not a positive integer`)
    assert(Number.isSafeInteger(maxInflight) && maxInflight >= 1, `window ${maxInflight} is not a positive integer`)
  }

  get size(): number {
    return this.snapshot.data.length
  }

  /** Bytes the follower acknowledged so far. */
  get ackedBytes(): number {
    return this.acked
  }

  /** The chunks that may go now: the window filled from the next unsent byte. */
  take(): SnapshotChunk[] {
    const chunks: SnapshotChunk[] = []
    while (this.inflight.length < this.maxInflight && !this.sentDone) {
      const end = Math.min(this.size, this.next + this.chunkBytes)
      const done = end === this.size
      chunks.push({
        snapshotIndex: this.snapshot.index,
        snapshotTerm: this.snapshot.term,
        offset: this.next,
        data: this.snapshot.data.subarray(this.next, end),
        done,
        ...membershipFields(this.snapshot),
      })
      this.chunksSent++
      this.bytesSent += end - this.next
      this.inflight.push(end)
      this.next = end
      this.sentDone = done
    }
    return chunks
  }

  /** The follower's answer to one of our chunks (the caller checked it is for this transfer). */
  onAck(ack: SnapshotChunkAck): void {
    assert(ack.snapshotIndex === this.snapshot.index, 'an acknowledgement of another snapshot')
    if (ack.offset > this.size) return // not an offset of this snapshot: a bogus answer
    if (!ack.accepted) {
      // It holds nothing of this snapshot (any more): from its offset, once.
      if (ack.offset !== this.resentFrom) this.resendFrom(ack.offset)
      return
    }
    this.lastAck = ack.offset
    if (ack.offset > this.acked) {
      this.acked = ack.offset
      this.duplicateAcks = 0
      this.progressedThisRound = true
      this.inflight = this.inflight.filter((end) => end > ack.offset)
      // After going back, skip what it already held.
      if (this.next < this.acked) this.next = this.acked
      return
    }
    if (ack.offset < this.acked || ack.offset >= this.next) return // stale, or nothing to resend
    if (++this.duplicateAcks >= DUPLICATE_ACKS_TO_RESEND && ack.offset !== this.resentFrom) this.resendFrom(ack.offset)
  }

  /**
   * One heartbeat round passed. Returns true if the transfer stalled for `stallRounds` rounds
   * and was rewound (the caller then sends `take()`): to the acknowledged offset, or lower if
   * the latest acknowledgement named a lower one. That happens when a late acknowledgement
   * from before a follower's restart (reordered behind the refusal that restarted the
   * transfer) moved `acked` past what the restarted follower holds: its true, lower
   * acknowledgements then look stale, and rewinding to `acked` alone would never fill its gap.
   */
  onRound(): boolean {
    if (this.progressedThisRound) {
      this.progressedThisRound = false
      this.stalledRounds = 0
      return false
    }
    if (++this.stalledRounds < this.stallRounds) return false
    this.stalledRounds = 0
    this.resendFrom(Math.min(this.acked, this.lastAck))
    this.resentFrom = null
    return true
  }

  private resendFrom(offset: number): void {
    this.next = offset
    this.acked = offset
    this.inflight = []
    this.sentDone = false
    this.duplicateAcks = 0
    this.resentFrom = offset
  }
}

export type ChunkOutcome =
  /** Answer with this acknowledgement. */
  | { readonly type: 'ack'; readonly ack: SnapshotChunkAck }
  /** The last chunk arrived: the whole snapshot, to install. */
  | { readonly type: 'complete'; readonly snapshot: Snapshot }

/**
 * The follower's side: at most one snapshot in assembly, so memory is bounded by that
 * snapshot's own size (and briefly twice that, when the chunks are joined). Chunks that
 * arrive after a gap are kept aside, at most `maxChunksAside` of them, until the gap is
 * filled. The assembly is tied to one leadership (`origin`: Raft's term, Paxos's ballot) and
 * one snapshot (index and term): a chunk at offset 0 of another one replaces it; any other
 * chunk of another one is refused with offset 0, so that its sender starts over.
 */
export class SnapshotAssembly {
  private origin = -1
  private snapshotIndex = 0
  private snapshotTerm = 0
  private parts: Uint8Array[] = []
  private received = 0
  private membership: MembershipFields = {}
  /** Chunks past a gap, by offset. */
  private aside = new Map<number, SnapshotChunk>()

  constructor(private readonly maxChunksAside = 64) {}

  /** Bytes held for the snapshot in assembly, in order (0 when none). */
  get bytesHeld(): number {
    return this.received
  }

  /** The snapshot being assembled, or null. */
  get assembling(): { readonly index: number; readonly term: number; readonly origin: number } | null {
    return this.origin === -1 ? null : { index: this.snapshotIndex, term: this.snapshotTerm, origin: this.origin }
  }

  receive(origin: number, chunk: SnapshotChunk): ChunkOutcome {
    if (!this.isFor(origin, chunk)) {
      if (chunk.offset !== 0) return this.ack(chunk, false)
      this.clear()
      this.origin = origin
      this.snapshotIndex = chunk.snapshotIndex
      this.snapshotTerm = chunk.snapshotTerm
    }
    if (chunk.membership !== undefined) this.membership = membershipFields(chunk)
    if (chunk.offset > this.received) {
      // A chunk before it is missing: keep this one for when the gap is filled.
      if (this.aside.size < this.maxChunksAside) this.aside.set(chunk.offset, chunk)
      return this.ack(chunk, true)
    }
    let next: SnapshotChunk | undefined = chunk
    while (next !== undefined) {
      const end = next.offset + next.data.length
      if (end > this.received) {
        // Takes what is new (chunks from one sender do not overlap; this is only a guard).
        this.parts.push(next.data.subarray(this.received - next.offset))
        this.received = end
      }
      if (next.done && end === this.received) return this.complete()
      this.aside.delete(next.offset)
      next = this.aside.get(this.received)
    }
    return this.ack(chunk, true)
  }

  /** Forget the snapshot in assembly (a new term, or the follower caught up otherwise). */
  clear(): void {
    this.origin = -1
    this.snapshotIndex = 0
    this.snapshotTerm = 0
    this.parts = []
    this.received = 0
    this.aside = new Map()
    this.membership = {}
  }

  private complete(): ChunkOutcome {
    const snapshot: Snapshot = {
      index: this.snapshotIndex,
      term: this.snapshotTerm,
      data: join(this.parts, this.received),
      ...this.membership,
    }
    this.clear()
    return { type: 'complete', snapshot }
  }

  private isFor(origin: number, chunk: SnapshotChunk): boolean {
    return this.origin === origin && this.snapshotIndex === chunk.snapshotIndex && this.snapshotTerm === chunk.snapshotTerm
  }

  private ack(chunk: SnapshotChunk, accepted: boolean): ChunkOutcome {
    return { type: 'ack', ack: { snapshotIndex: chunk.snapshotIndex, offset: accepted ? this.received : 0, accepted } }
  }
}

function join(parts: readonly Uint8Array[], size: number): Uint8Array {
  const data = new Uint8Array(size)
  let at = 0
  for (const part of parts) {
    data.set(part, at)
    at += part.length
  }
  return data
}

/** The gateway check of a chunk's fields (each core checks its message's other fields). */
export function isSnapshotChunk(m: Readonly<Record<string, unknown>>, maxChunkBytes: number, maxSnapshotBytes: number): boolean {
  const count = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
  const { snapshotIndex, snapshotTerm, offset, data, done, membership, membershipIndex, previousMembership, memberContexts } = m
  return (
    (membership === undefined || isMembership(membership)) &&
    (memberContexts === undefined || isMemberContexts(memberContexts)) &&
    (membershipIndex === undefined || count(membershipIndex)) &&
    (previousMembership === undefined || isMembership(previousMembership)) &&
    count(snapshotIndex) && snapshotIndex >= 1 && count(snapshotTerm) && count(offset) &&
    data instanceof Uint8Array && data.length <= maxChunkBytes && offset + data.length <= maxSnapshotBytes &&
    typeof done === 'boolean'
  )
}

/** The gateway check of an acknowledgement's fields. */
export function isSnapshotChunkAck(m: Readonly<Record<string, unknown>>, maxSnapshotBytes: number): boolean {
  const { snapshotIndex, offset, accepted } = m
  return (
    typeof snapshotIndex === 'number' && Number.isSafeInteger(snapshotIndex) && snapshotIndex >= 1 &&
    typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0 && offset <= maxSnapshotBytes &&
    typeof accepted === 'boolean'
  )
}

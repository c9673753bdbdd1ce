import type { SnapshotSender } from '@kv/consensus'

/**
 * The leader's view of one follower (Raft §5.3: nextIndex and matchIndex), with the flow
 * control of etcd-io/raft's `tracker.Progress`:
 *
 * - `probe`: we do not know where the follower's log diverges; one AppendEntries at a time.
 * - `replicate`: the follower is following; nextIndex advances optimistically as messages
 *   are sent, up to `maxInflight` of them unacknowledged (pipelining).
 * - `snapshot`: a snapshot is on its way in chunks (`transfer`, with its own window and
 *   resumption, see `SnapshotSender`); no AppendEntries is sent.
 */

export type ProgressState = 'probe' | 'replicate' | 'snapshot'

export class Progress {
  matchIndex = 0
  nextIndex: number
  state: ProgressState = 'probe'
  /** probe: an AppendEntries is unanswered. */
  probeSent = false
  /** snapshot: the index of the snapshot sent. */
  pendingSnapshotIndex = 0
  /** snapshot: the transfer of that snapshot's chunks. */
  transfer: SnapshotSender | null = null
  /** replicate: the last index of each AppendEntries in flight, oldest first. */
  inflight: number[] = []
  /** The leader's tick count when this follower last answered (CheckQuorum, thesis §6.2). */
  lastHeardTick: number
  /** matchIndex when the previous heartbeat answer arrived: no change means a stall. */
  matchAtLastHeartbeat = 0
  /** Highest commit index sent to this follower (in an AppendEntries or a heartbeat). */
  commitSent = 0

  constructor(nextIndex: number, private readonly maxInflight: number, nowTick: number) {
    this.nextIndex = nextIndex
    this.lastHeardTick = nowTick // a new leader gives every follower a full election timeout
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent
      case 'replicate':
        return this.inflight.length >= this.maxInflight
      case 'snapshot':
        return true
    }
  }

  becomeProbe(): void {
    this.state = 'probe'
    this.nextIndex = this.matchIndex + 1
    this.reset()
  }

  becomeReplicate(): void {
    this.state = 'replicate'
    this.nextIndex = this.matchIndex + 1
    this.reset()
  }

  becomeSnapshot(transfer: SnapshotSender): void {
    this.state = 'snapshot'
    this.pendingSnapshotIndex = transfer.snapshot.index
    this.reset()
    this.transfer = transfer
  }

  private reset(): void {
    this.probeSent = false
    this.inflight = []
    this.transfer = null
  }

  /** An AppendEntries carrying entries up to `lastIndex` was sent. */
  onEntriesSent(lastIndex: number | null): void {
    if (this.state === 'replicate' && lastIndex !== null) {
      this.nextIndex = lastIndex + 1
      this.inflight.push(lastIndex)
    } else if (this.state === 'probe') {
      this.probeSent = true
    }
  }

  /** A success answer: returns false if it told us nothing new (stale or duplicate). */
  maybeUpdate(matchIndex: number): boolean {
    this.probeSent = false
    if (matchIndex <= this.matchIndex) return false
    this.matchIndex = matchIndex
    this.nextIndex = Math.max(this.nextIndex, matchIndex + 1)
    this.inflight = this.inflight.filter((last) => last > matchIndex)
    return true
  }

  /**
   * A rejection of prevLogIndex `rejected`; `hint` is the last index that may match. Falls
   * back to probing. Returns false if the rejection is stale (it answers a message sent before we learned more).
   */
  maybeDecreaseTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.matchIndex) return false
      // The pipeline broke (a lost or reordered message): probe from the hint.
      this.state = 'probe'
      this.reset()
    } else if (rejected !== this.nextIndex - 1) {
      return false
    }
    this.nextIndex = Math.max(Math.min(rejected, hint + 1), this.matchIndex + 1)
    this.probeSent = false
    return true
  }
}

import type { PeerMessage, Ready, Snapshot } from '@kv/consensus'


/**
 * Everything the replica logic needs from the world. The real node implements it with TCP,
 * the write-ahead log and a clock; the simulator with virtual time, a simulated network and
 * a simulated disk. The replica code is the same in both.
 */
export interface ReplicaEnv<M = unknown> {
  /**
   * Milliseconds on the node's clock. Read by a leader, to stamp the batches it proposes and to
   * time out the reads it holds (watch polls).
   */
  now(): number
  /**
   * Send a message to a peer: a replica of this group (consensus), or of another group (a
   * `GroupMessage`; replica ids are unique cluster-wide). Fire and forget: the protocols and
   * the machines' own retries cover what is lost.
   */
  send(msg: PeerMessage): void
  /**
   * Make the durable part of `ready` durable — snapshot, truncateFrom, entries, hard state —
   * then call `done`. Called for every Ready as it is handed out, while earlier ones may still
   * be in flight (see `Ready` in @kv/consensus): writes must become durable in call order (a
   * crash keeps a prefix of them), and may share one sync (group commit). Never call `done` for
   * a write that is not on disk; `done` may come out of order (at once for a Ready with nothing
   * to write): the replica finishes Readys in call order itself.
   */
  persist(ready: Ready, done: () => void): void
  /** Store the application's own snapshot durably, then call `done`. */
  saveSnapshot(snapshot: Snapshot, done: () => void): void
  /** Called after each group of applied entries (the real node mirrors the changes to its state store). */
  onApplied?(stateMachine: M): void
}

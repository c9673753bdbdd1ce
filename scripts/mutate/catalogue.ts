/**
 * The named source mutations of `pnpm mutate`: each plants one bug the test suite must
 * catch, as an exact search/replace on the current source. A search text must occur exactly
 * once in its file, so a refactor that moves the code makes the run fail loudly (update the
 * entry) instead of silently testing an unmutated tree. Keep search texts short: other
 * branches edit these files.
 *
 * `checks` are ordered cheapest first, and the first is the one expected to catch the
 * mutation: `--quick` runs only it. The rest (and `sim`) are the wider net a full run
 * casts, stopping at the first that fails.
 *
 * `sim` is the fuzzer catching the bug by itself (`pnpm mutate --sim-only`): seeds 1..N of
 * `pnpm sim` hold at least three that catch it (where fewer of the first 1,000 do, N covers
 * them all), measured on seeds 1..1,000 (the comment gives the first catching seeds). A run
 * stops at the first, so a mutant costs far fewer seeds than N; the unmutated baseline runs
 * all N. An entry without `sim` says why the fuzzer cannot catch it.
 */
import type { Check, Mutation, SimCheck, VitestCheck } from './types.js'

const t = (file: string, name?: string): VitestCheck => (name === undefined ? { files: [file] } : { files: [file], name })

const STORAGE = 'packages/storage/src'
const RAFT = 'packages/raft/src'
const PAXOS = 'packages/paxos/src'
const SERVER = 'packages/server/src'
const SIM = 'packages/sim/src'

const kvraft = (protocol: 'raft' | 'paxos', test?: string) =>
  t(`${SIM}/kvraft.test.ts`, test === undefined ? `^${protocol} protocol, kvraft suite` : `^${protocol} protocol, kvraft suite ${test}`)
const conformance = (protocol: 'raft' | 'paxos') => t(`${SIM}/conformance.test.ts`, `^${protocol} conformance`)

export const catalogue: readonly Mutation[] = [
  // ---- storage -----------------------------------------------------------------------
  {
    name: 'wal-no-fdatasync',
    description: 'the WAL acknowledges a group commit without fdatasync of the segment',
    file: `${STORAGE}/wal/wal.ts`,
    search: 'await this.file.datasync()',
    replace: '/* mutation: no fdatasync */',
    checks: [
      t(`${STORAGE}/wal/power-loss.test.ts`, 'keeps every acknowledged write'),
      t(`${STORAGE}/wal/power-loss.property.test.ts`),
      t(`${STORAGE}/wal/power-loss.test.ts`),
    ],
    quick: true,
  },
  {
    name: 'wal-torn-tail-not-cut',
    description: 'WAL recovery finds a torn tail but leaves its bytes in place instead of zeroing them',
    file: `${STORAGE}/wal/wal.ts`,
    search: 'await writeAllAt(file, [Buffer.alloc(recovery.truncatedBytes)], recovery.offset)',
    replace: '/* mutation: torn tail left in place */',
    checks: [t(`${STORAGE}/wal/torn.test.ts`, 'cut at any byte'), t(`${STORAGE}/wal/torn.test.ts`), t(`${STORAGE}/wal/power-loss.test.ts`)],
    quick: true,
  },

  // ---- raft --------------------------------------------------------------------------
  {
    name: 'raft-commit-earlier-term-by-counting',
    description: 'the leader commits an entry of an earlier term by counting replicas (Raft Figure 8)',
    file: `${RAFT}/replication.ts`,
    search: ' || r.log.term(quorumIndex) !== r.term',
    replace: '',
    checks: [t(`${RAFT}/replication.test.ts`, 'Figure 8'), t(`${RAFT}/safety.test.ts`), conformance('raft')],
    // The fuzzer needs leader hunts (each new leader cut off before its first entry spreads) and
    // one-entry messages: seeds 123, 516, 684 of 1,000 (the only three).
    sim: { protocol: 'raft', seeds: 700 },
    quick: true,
  },
  {
    name: 'raft-read-index-no-quorum-round',
    description: 'ReadIndex answers with the commit index at once, without a heartbeat round confirming leadership',
    file: `${RAFT}/read-index.ts`,
    search: 'else r.reads.add(ctx, r.log.commitIndex)',
    replace: 'else r.readStates.push({ ctx, index: r.log.commitIndex })',
    checks: [t(`${RAFT}/read-index.test.ts`, 'partitioned away'), t(`${RAFT}/read-index.test.ts`), kvraft('raft', 'many partitions')],
    // A deposed leader must still believe it leads while readers reach it (a leader frozen as a
    // partition begins, or slowed by clock drift): seeds 105, 300, 890, 910, the only four of 1,000.
    sim: { protocol: 'raft', seeds: 900 },
    quick: true,
  },
  {
    name: 'raft-read-index-no-current-term-commit',
    description: 'ReadIndex takes the commit index before the leader has committed an entry of its own term',
    file: `${RAFT}/read-index.ts`,
    search: 'if (r.log.term(r.log.commitIndex) !== r.term) r.reads.waitForCommit(ctx)',
    replace: 'if (false as boolean) r.reads.waitForCommit(ctx)',
    checks: [t(`${RAFT}/read-index.test.ts`, 'waits until the leader committed'), kvraft('raft')],
    // The window is a new leader's first round trip (transfers, crashes, leader hunts; disk
    // stalls widen it): seeds 114, 236, 258, 448, 535, ...
    sim: { protocol: 'raft', seeds: 300 },
    quick: true,
  },
  {
    name: 'raft-leader-never-steps-down',
    description: 'CheckQuorum off: a leader cut off from a quorum keeps leading',
    file: `${RAFT}/raft.ts`,
    search: 'if (this.options.checkQuorum && !this.heardFromQuorum()) {',
    replace: 'if (false as boolean) {',
    checks: [t(`${RAFT}/transfer.test.ts`, 'CheckQuorum'), t(`${RAFT}/read-index.test.ts`), kvraft('raft')],
    // The final one-way cut (the leader hears none of its peers): seeds 1, 4, 5, 8, 10, ...
    sim: { protocol: 'raft', seeds: 10 },
    quick: true,
  },
  {
    name: 'raft-leader-counts-own-copy-early',
    description: 'the leader counts its own log toward a quorum before the Ready carrying it was made durable',
    file: `${RAFT}/replication.ts`,
    search: '(id === r.id ? r.log.durableTo : ',
    replace: '(id === r.id ? r.log.lastIndex() : ',
    checks: [t(`${RAFT}/replication.test.ts`, 'durability before counting'), t(`${RAFT}/snapshot.test.ts`), conformance('raft')],
    // With pipelined Readys the fuzzer catches it (seed 2 of 1,000 on 2026-12-07: the core's
    // invariant "commit above what a quorum holds durably", checked after every step). With one
    // Ready in flight it could not: nothing left the leader before its own copy was durable.
    sim: { protocol: 'raft', seeds: 200 },
    quick: true,
  },
  {
    name: 'raft-vote-not-persisted',
    description: 'the hard state a Ready asks to persist never carries the vote',
    file: `${RAFT}/raft.ts`,
    search: 'const current: HardState = { term: this.term, vote: this.vote,',
    replace: 'const current: HardState = { term: this.term, vote: null,',
    checks: [t(`${RAFT}/election.test.ts`, 'sends a vote only after persisting it'), conformance('raft')],
    // The core's hard state then never matches what it handed out, so it is never idle: seed 1
    // ends in the simulator's livelock check (10,000 Readys with nothing to sync at one instant;
    // before that check the run spun until the caller's timeout). Duels (a voter bouncing between
    // two candidates of one term) also broke election safety at seeds 15, 25, 143 before Readys
    // were pipelined.
    sim: { protocol: 'raft', seeds: 10 },
    quick: true,
  },
  {
    name: 'raft-applies-before-durable',
    description: 'committed entries are handed out to apply once handed out to be written, not once their write completed',
    file: `${RAFT}/log.ts`,
    search: 'Math.min(this.commitIndex, this.durableTo))',
    replace: 'Math.min(this.commitIndex, this.handedOutTo))',
    checks: [t(`${RAFT}/pipeline.test.ts`, 'a follower acknowledges entries in the Ready that writes them'), conformance('raft')],
    sim: { protocol: 'raft', seeds: 50 },
    quick: true,
  },
  {
    name: 'raft-cut-entries-counted-durable',
    description: 'advancing a Ready counts all its entries durable, even those cut and replaced while it was in flight',
    file: `${RAFT}/log.ts`,
    search: 'const durable = Math.min(token.lastEntryIndex, token.cutFrom - 1)',
    replace: 'const durable = token.lastEntryIndex',
    checks: [t(`${RAFT}/pipeline.test.ts`, 'entries cut while their Ready is in flight'), t(`${RAFT}/log.test.ts`)],
    // Not caught by the fuzzer (0 of 1,000 seeds on 2026-12-07). The wrong count lasts from the
    // advance of the Ready holding the cut entries to the advance of the next one, which writes
    // their replacements; to be seen, the follower must ack a replacement in that window, its ack
    // must be the one that commits it, and the follower must crash before the replacement's write
    // completes (often the same sync as the cut one's), then the entry be lost by the next leader.
    // The checks above look inside the core and see the count at once.
    quick: true,
  },
  {
    name: 'raft-applies-past-unrestored-snapshot',
    description: 'committed entries above a snapshot are handed out to apply while the Ready carrying the snapshot is in flight',
    file: `${RAFT}/log.ts`,
    search: 'if (this.pendingSnapshot !== null || this.snapshotsInFlight > 0) return this.appliedIndex',
    replace: 'if (this.pendingSnapshot !== null) return this.appliedIndex',
    checks: [t(`${RAFT}/pipeline.test.ts`, 'a snapshot received while writes are in flight'), conformance('raft')],
    // Caught by the fuzzer (seed 1 of 1,000 on 2026-12-07: the log's slice invariant).
    sim: { protocol: 'raft', seeds: 200 },
    quick: true,
  },

  // ---- paxos -------------------------------------------------------------------------
  {
    name: 'paxos-recovery-takes-last-value',
    description: "recovery re-proposes the last reported value for a slot, not the highest ballot's",
    file: `${PAXOS}/recovery.ts`,
    search: 'entry.term > current.entry.term',
    replace: 'true',
    checks: [t(`${PAXOS}/recovery.test.ts`, 'highest accepted ballot'), t(`${PAXOS}/cluster.test.ts`, 're-proposes'), t(`${PAXOS}/property.test.ts`)],
    // Leader hunts leave two ballots' values in one slot: seeds 308, 595, 620, 679, 780, ...
    sim: { protocol: 'paxos', seeds: 650 },
    quick: true,
  },
  {
    name: 'paxos-recovery-takes-lowest-ballot',
    description: 'recovery re-proposes the value of the lowest reported ballot for a slot',
    file: `${PAXOS}/recovery.ts`,
    search: 'entry.term > current.entry.term',
    replace: 'entry.term < current.entry.term',
    checks: [t(`${PAXOS}/recovery.test.ts`, 'highest accepted ballot'), t(`${PAXOS}/cluster.test.ts`, 're-proposes'), t(`${PAXOS}/property.test.ts`)],
    // Leader hunts: seeds 1, 173, 279, 308, 456, ...
    sim: { protocol: 'paxos', seeds: 300 },
    quick: true,
  },
  {
    name: 'paxos-holes-not-filled',
    description: 'recovery leaves slots nobody reported empty instead of filling them with no-ops',
    file: `${PAXOS}/recovery.ts`,
    search: '    plan.push(reproposal(best.get(slot)?.entry, slot, ballot))\n',
    replace: '    const value = best.get(slot)?.entry\n    if (value === undefined) continue\n    plan.push(reproposal(value, slot, ballot))\n',
    checks: [t(`${PAXOS}/recovery.test.ts`, 'fills every slot'), t(`${PAXOS}/cluster.test.ts`, 'leaves holes'), t(`${PAXOS}/core.test.ts`)],
    // Leaders that skip slots; the fresh client after the faults stop is never served: seeds 1, 5, 17, ...
    sim: { protocol: 'paxos', seeds: 20 },
    quick: true,
  },
  {
    name: 'paxos-leader-never-steps-down',
    description: 'a Paxos leader that heard from no quorum for an election timeout keeps leading',
    file: `${PAXOS}/heartbeat.ts`,
    search: 'if (isLeaderQuorum(s, heard)) return',
    replace: 'if (heard.length >= 0) return',
    checks: [t(`${PAXOS}/cluster.test.ts`, 'fails pending reads when the leader loses its ballot'), t(`${PAXOS}/cluster.test.ts`), kvraft('paxos')],
    // The final one-way cut: seeds 4, 5, 7, 8, 10, ...
    sim: { protocol: 'paxos', seeds: 10 },
    quick: true,
  },
  {
    name: 'paxos-leader-counts-own-copy-early',
    description: "the leader counts its own acceptance of a proposal before it is durable",
    file: `${PAXOS}/window.ts`,
    search: 'leader.votes.set(entry.index, new Set())',
    replace: 'leader.votes.set(entry.index, new Set([s.id]))',
    checks: [t(`${PAXOS}/core.test.ts`, "does not choose a slot from one acceptor's vote"), t(`${PAXOS}/core.test.ts`, 'counts its own acceptance only after advance'), conformance('paxos')],
    // Caught by the fuzzer since Readys are pipelined (seed 1 of 1,000 on 2026-12-07, the core's
    // own invariant), as raft-leader-counts-own-copy-early.
    sim: { protocol: 'paxos', seeds: 200 },
    quick: true,
  },
  {
    name: 'paxos-applies-unsynced-slot',
    description: 'chosen slots are handed out to apply before their write on this replica completed',
    file: `${PAXOS}/ready.ts`,
    search: 'slot <= s.commitIndex && s.unsynced.isDurable(slot); slot++',
    replace: 'slot <= s.commitIndex; slot++',
    checks: [t(`${PAXOS}/pipeline.test.ts`, 'an acceptor answers each Accept in the Ready that writes its slots'), conformance('paxos')],
    sim: { protocol: 'paxos', seeds: 50 },
    quick: true,
  },
  {
    name: 'paxos-overwritten-slot-counted-durable',
    description: 'advancing a Ready makes its slots durable even when a later Ready in flight carries a newer value for them',
    file: `${PAXOS}/unsynced.ts`,
    search: 'for (const e of entries) if (this.latest.get(e.index) === seq) this.latest.delete(e.index)',
    replace: 'for (const e of entries) this.latest.delete(e.index)',
    checks: [t(`${PAXOS}/pipeline.test.ts`, 'a slot accepted again while its earlier write is in flight'), t(`${SIM}/conformance.test.ts`, '^paxos conformance pipeline-overwrite')],
    // Caught by the fuzzer (seed 7 of 1,000 on 2026-12-07: the durability check of applied slots).
    sim: { protocol: 'paxos', seeds: 200 },
    quick: true,
  },
  {
    name: 'paxos-promise-not-persisted',
    description: 'a new promised ballot is written to the hard state only when the chosen watermark also moves',
    file: `${PAXOS}/ready.ts`,
    search: 'handedOut.term === s.promisedBallot && ',
    replace: '',
    // The core test persists the first promise of a fresh acceptor (no hard state yet), which
    // this mutation still writes; the conformance durability checker sees the later ones.
    checks: [t(`${SIM}/conformance.test.ts`, '^paxos conformance leader-crash'), conformance('paxos'), t(`${PAXOS}/core.test.ts`)],
    // Crash points leave acceptors that forgot their promised ballot; after the final one-way cut
    // the fresh client is never served: seeds 4, 5, 7, 10, 15, ... (duels, where an acceptor
    // bounces between its promise and the old leader's next Accept, choose a slot twice).
    sim: { protocol: 'paxos', seeds: 10 },
    quick: true,
  },
  {
    name: 'paxos-read-barrier-no-majority-round',
    description: "the read barrier is confirmed by the leader's own acknowledgement alone",
    file: `${PAXOS}/heartbeat.ts`,
    search: 's.reads.acknowledge(s.id, round, (acks) => isLeaderQuorum(s, acks))',
    replace: 's.reads.acknowledge(s.id, round, () => true)',
    checks: [t(`${PAXOS}/cluster.test.ts`, 'partitioned away while a newer ballot'), kvraft('paxos', 'many partitions')],
    // Seeds 70, 204, 223, 269, 309, ...
    sim: { protocol: 'paxos', seeds: 250 },
    quick: true,
  },
  {
    name: 'paxos-read-barrier-no-recovery-wait',
    description: 'a new Paxos leader answers reads before its recovered slots are chosen',
    file: `${PAXOS}/heartbeat.ts`,
    search: ' || s.commitIndex < leader.recoveryThrough',
    replace: '',
    checks: [t(`${PAXOS}/cluster.test.ts`, 'answers no read until its recovered slots are chosen'), kvraft('paxos')],
    // A new leader's first round trip (transfers, crashes, partitions): seeds 95, 117, 154, 159, 178, ...
    sim: { protocol: 'paxos', seeds: 160 },
    quick: true,
  },

  // ---- server ------------------------------------------------------------------------
  {
    name: 'server-get-without-read-barrier',
    description: 'the leader answers a linearizable get from its local state at once, with no read barrier',
    file: `${SERVER}/replica.ts`,
    search: "if (kind === 'read') this.pendingGets.push({ op, reply })",
    replace: "if (kind === 'read') this.answer(reply, this.machine.read(op))",
    checks: [t(`${SERVER}/replica.test.ts`, 'holds a linearizable get'), kvraft('raft', 'many partitions'), kvraft('paxos', 'many partitions'), kvraft('raft'), kvraft('paxos')],
    // Raft seeds 1, 105, 107, ...; Paxos seeds 3, 42, 70, ...
    sim: [{ protocol: 'raft', seeds: 110 }, { protocol: 'paxos', seeds: 70 }],
    quick: true,
  },
  {
    name: 'server-reply-before-commit',
    description: 'the leader answers a write ok as soon as it is proposed, before its entry is committed and applied',
    file: `${SERVER}/replica.ts`,
    search: 'if (isNotLeader(result)) {',
    // Deletes still wait (their answer depends on the state): the early answers are well
    // formed, so only what they claim (the write took effect) can betray them.
    replace:
      "if (!isNotLeader(result)) for (const c of commands) if ((c.op as { op?: string }).op !== 'delete') this.answerWrite(c.clientId, c.seq, { type: 'result', result: { type: 'ok' } })\n      if (isNotLeader(result)) {",
    checks: [t(`${SERVER}/replica.test.ts`, 'answers a write once its entry is applied'), kvraft('raft', 'many concurrent clients'), kvraft('raft'), kvraft('paxos')],
    sim: [{ protocol: 'raft', seeds: 5 }, { protocol: 'paxos', seeds: 5 }],
    quick: true,
  },
  {
    name: 'replica-advances-before-write',
    description: "the replica finishes a Ready (sends what waited for its write, advances the core) before the env reported its write done",
    file: `${SERVER}/replica.ts`,
    search: 'head?.persisted === true; head = this.readysInFlight[0]',
    replace: 'head !== undefined; head = this.readysInFlight[0]',
    checks: [t(`${SERVER}/replica.test.ts`, 'finishes Readys in the order it handed them out'), kvraft('raft'), kvraft('paxos')],
    sim: { protocol: 'raft', seeds: 50 },
    quick: true,
  },
  {
    name: 'session-dedup-off',
    description: 'applyOnce applies every write, a retried one again',
    file: `${SERVER}/session.ts`,
    search: 'const found = lookup(session, command.seq)',
    replace: "const found = { kind: 'new' } as SessionLookup<R>",
    // kv-machine.test's 'applies a retried write once' does not catch it: the retried append
    // and delete, applied again, happen to leave the same state and answers.
    checks: [t(`${SERVER}/replica.test.ts`, 'retried after it from the session'), kvraft('raft', 'concurrent appends'), kvraft('raft'), t(`${SERVER}/kv/kv-machine.test.ts`)],
    sim: [{ protocol: 'raft', seeds: 5 }, { protocol: 'paxos', seeds: 5 }],
    quick: true,
  },

  // ---- the checker -------------------------------------------------------------------
  {
    name: 'checker-always-ok',
    description: 'the linearizability search calls every history linearizable when it runs out of candidates',
    file: `${SIM}/linearizability/search.ts`,
    search: "return { type: 'illegal', deadEnd: this.deepestDeadEnd() }",
    replace: "return { type: 'linearizable' }",
    checks: [t(`${SIM}/linearizability/linearizability.test.ts`, 'violations'), t(`${SIM}/linearizability/properties.test.ts`)],
    // No sim: the fuzzer's verdicts come from this checker (its safety checks see other bugs, not this one).
    quick: true,
  },
]

/** The fuzzer runs expected to catch `m`, one per protocol. */
export function simChecks(m: Mutation): SimCheck[] {
  if (m.sim === undefined) return []
  return 'protocol' in m.sim ? [m.sim] : [...m.sim]
}

export interface CheckSelection {
  /** Only the first check. */
  readonly quick?: boolean
  /** Only the sim checks (does the fuzzer catch it by itself?). */
  readonly simOnly?: boolean
  /** Run each sim check with this many seeds instead (to measure how many it needs). */
  readonly simSeeds?: number
}

/** The checks a run uses for `m`: all of them in order (sim last), (quick) only the first, or (simOnly) only the sims. */
export function checksFor(m: Mutation, selection: CheckSelection = {}): Check[] {
  const sims = simChecks(m).map((check): Check => ({ kind: 'sim', check: selection.simSeeds === undefined ? check : { ...check, seeds: selection.simSeeds } }))
  if (selection.simOnly === true) return sims
  const all: Check[] = [...m.checks.map((check): Check => ({ kind: 'vitest', check })), ...sims]
  return selection.quick === true ? all.slice(0, 1) : all
}

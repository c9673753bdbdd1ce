/** Compact one-line renderings of messages and Readys, for golden traces (tests only). */
import type { Entry, NodeId, PeerMessage, ReadState, Ready } from '@kv/consensus'
import type { RaftMessage } from './messages.js'

const decoder = new TextDecoder()

export function formatEntry(e: Entry): string {
  if (e.type === 'noop') return `${e.index}/${e.term}:noop`
  if (e.type === 'membership') return `${e.index}/${e.term}:${e.change.type} ${e.change.id}`
  return `${e.index}/${e.term}:${decoder.decode(e.data)}`
}

function formatEntries(entries: readonly Entry[]): string {
  return `[${entries.map(formatEntry).join(' ')}]`
}

function body(m: RaftMessage): string {
  switch (m.type) {
    case 'PreVote':
      return `last=${m.lastLogIndex}/${m.lastLogTerm}`
    case 'RequestVote':
      return `last=${m.lastLogIndex}/${m.lastLogTerm}${m.transfer ? ' transfer' : ''}`
    case 'PreVoteResponse':
    case 'RequestVoteResponse':
      return m.granted ? 'granted' : 'refused'
    case 'AppendEntries':
      return `prev=${m.prevLogIndex}/${m.prevLogTerm} ${formatEntries(m.entries)} commit=${m.leaderCommit}`
    case 'AppendEntriesResponse':
      return m.success ? `ok match=${m.matchIndex}` : `reject ${m.rejectedIndex} hint=${m.hintIndex}/${m.hintTerm}`
    case 'Heartbeat':
      return `commit=${m.commit} round=${m.readRound}`
    case 'HeartbeatResponse':
      return `round=${m.readRound}`
    case 'InstallSnapshot':
      return `snapshot=${m.snapshotIndex}/${m.snapshotTerm} offset=${m.offset} bytes=${m.data.length}${m.done ? ' done' : ''}`
    case 'InstallSnapshotResponse':
      return `snapshot=${m.snapshotIndex} offset=${m.offset}${m.accepted ? '' : ' refused'}`
    case 'TimeoutNow':
      return ''
  }
}

export function formatMessage(raw: PeerMessage): string {
  const m = raw as RaftMessage
  return `${m.from}->${m.to} ${m.type} t${m.term} ${body(m)}`.trimEnd()
}

function formatRead(r: ReadState): string {
  return `${r.ctx}@${r.index ?? 'null'}`
}

/** A Ready as indented lines; empty parts are left out. */
export function formatReady(id: NodeId, ready: Ready): string[] {
  const lines = [`${id} ready`]
  const hs = ready.hardState
  if (hs !== null) lines.push(`  hardState term=${hs.term} vote=${hs.vote ?? '-'} commit=${hs.commit}`)
  if (ready.snapshot !== null) lines.push(`  snapshot ${ready.snapshot.index}/${ready.snapshot.term}`)
  if (ready.truncateFrom !== null) lines.push(`  truncateFrom ${ready.truncateFrom}`)
  if (ready.entries.length > 0) lines.push(`  entries ${formatEntries(ready.entries)}`)
  for (const m of ready.messagesNow) lines.push(`  now   ${formatMessage(m)}`)
  for (const m of ready.messagesAfterPersist) lines.push(`  after ${formatMessage(m)}`)
  if (ready.committed.length > 0) lines.push(`  committed ${formatEntries(ready.committed)}`)
  if (ready.readStates.length > 0) lines.push(`  reads ${ready.readStates.map(formatRead).join(' ')}`)
  return lines
}

import { isMembershipEntryBody, isSnapshotChunk, isSnapshotChunkAck, type Entry, type NodeId } from '@kv/consensus'
import { ballotOwner } from './ballot.js'
import { MAX_MESSAGE_PAYLOAD_BYTES, MAX_PROMISE_SLOTS, MAX_SNAPSHOT_BYTES } from './limits.js'
import { LEADER_MESSAGES, REPLY_MESSAGES, type PaxosMessage, type PaxosMessageType } from './messages.js'

/**
 * The gateway for peer messages (STYLE: gateways, then assertions). Anything that arrives
 * over the wire is checked here for shape and for the facts the protocol relies on (the
 * ballot's owner sent it, entries are well formed and in slot order). A message that fails
 * is ignored; past this point the core asserts.
 */

export interface GatewayContext {
  readonly id: NodeId
  /** The roster this replica knows (the latest chosen membership's): ballots are numbered by
   * it (ballot.ts), and its ids are the replicas it hears from (see `isFromOwner`). */
  readonly roster: () => readonly NodeId[]
  readonly maxEntriesPerMessage: number
}

type Fields = Record<string, unknown>

const isObject = (x: unknown): x is Fields => typeof x === 'object' && x !== null
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
const isPositive = (x: unknown): x is number => isCount(x) && x >= 1

function isEntry(x: unknown): x is Entry {
  if (!isObject(x) || !isPositive(x['index']) || !isPositive(x['term'])) return false
  if (x['type'] === 'noop') return true
  if (x['type'] === 'membership') return isMembershipEntryBody(x)
  return x['type'] === 'normal' && x['data'] instanceof Uint8Array
}

/** Entries in strictly increasing slot order, each accepted at a ballot no higher than `maxTerm`. */
function isEntryList(x: unknown, maxLength: number, maxTerm: number): x is readonly Entry[] {
  if (!Array.isArray(x) || x.length > maxLength) return false
  let previous = 0
  for (const entry of x) {
    if (!isEntry(entry) || entry.index <= previous || entry.term > maxTerm) return false
    previous = entry.index
  }
  return true
}

function isSlotList(x: unknown, maxLength: number): x is readonly number[] {
  if (!Array.isArray(x) || x.length > maxLength) return false
  let previous = 0
  for (const slot of x) {
    if (!isPositive(slot) || slot <= previous) return false
    previous = slot
  }
  return true
}

function hasValidBody(m: Fields, type: PaxosMessageType, term: number, ctx: GatewayContext): boolean {
  const batch = ctx.maxEntriesPerMessage
  switch (type) {
    case 'prepare':
      return isCount(m['commitIndex']) && isPositive(m['fromSlot']) && m['fromSlot'] > m['commitIndex']
    case 'commit':
    case 'learn-reply':
      return isCount(m['commitIndex'])
    case 'promise':
      return (
        isCount(m['commitIndex']) &&
        isPositive(m['fromSlot']) &&
        isEntryList(m['accepted'], MAX_PROMISE_SLOTS, term) &&
        typeof m['complete'] === 'boolean' &&
        isCount(m['snapshotIndex'])
      )
    case 'accept':
      // Phase 2a carries the leader's own proposals: every one at exactly its ballot.
      return (
        isCount(m['commitIndex']) &&
        isEntryList(m['entries'], batch, term) &&
        m['entries'].every((e) => e.term === term)
      )
    case 'accepted':
      return isCount(m['commitIndex']) && isSlotList(m['slots'], batch)
    case 'heartbeat':
    case 'heartbeat-reply':
      return isCount(m['commitIndex']) && isCount(m['readRound'])
    case 'learn':
      return isCount(m['commitIndex']) && isEntryList(m['entries'], batch, term)
    case 'install-snapshot':
      return isSnapshotChunk(m, MAX_MESSAGE_PAYLOAD_BYTES, MAX_SNAPSHOT_BYTES)
    case 'snapshot-reply':
      return isSnapshotChunkAck(m, MAX_SNAPSHOT_BYTES)
    case 'pre-promise':
      return typeof m['granted'] === 'boolean'
    case 'pre-prepare':
    case 'reject':
    case 'timeout-now':
      return true
    default: {
      const unknownType: never = type
      return unknownType
    }
  }
}

/**
 * Ballots are unique per proposer: a leader's message must come from its ballot's owner, and
 * a reply must answer a ballot this node owns (ballot.ts numbers them by roster position).
 * A leader's message whose ballot's position lies past the roster known here comes from a
 * replica admitted after what this one has learned: it is heard (it is how this one catches
 * up), if its sender is not someone we know under another position. A reply must answer a
 * ballot of ours; a reject must come from a replica we know. A replica not in its own roster yet (it is joining; its roster
 * is a guess) cannot tell owners apart: it hears everyone, and can only learn.
 */
function isFromOwner(kind: PaxosMessageType, from: NodeId, term: number, ctx: GatewayContext): boolean {
  const roster = ctx.roster()
  if (!roster.includes(ctx.id)) return true
  const known = roster.includes(from)
  if (LEADER_MESSAGES.has(kind)) {
    const owner = ballotOwner(term, roster)
    return owner === null ? !known : owner === from
  }
  // A reply to our own ballot may come from an acceptor we do not know yet: one of a
  // membership a recovery learned of from the promises (view-change.ts, `maybeWin`).
  if (REPLY_MESSAGES.has(kind)) return ballotOwner(term, roster) === ctx.id
  return known
}

const MESSAGE_TYPES: ReadonlySet<string> = new Set([...LEADER_MESSAGES, ...REPLY_MESSAGES, 'reject'])

/** True if `raw` is a well-formed message for this node; false means "ignore it". */
export function isValidMessage(raw: unknown, ctx: GatewayContext): raw is PaxosMessage {
  if (!isObject(raw)) return false
  const { type, from, to, term } = raw
  if (typeof type !== 'string' || !MESSAGE_TYPES.has(type)) return false
  if (to !== ctx.id || typeof from !== 'string' || from === ctx.id) return false
  if (!isPositive(term)) return false
  const kind = type as PaxosMessageType
  if (!isFromOwner(kind, from, term, ctx)) return false
  return hasValidBody(raw, kind, term, ctx)
}

import { createHash } from 'node:crypto'
import type { KvClient } from '@kv/client'
import { ChatRoom, type ChatMessage } from './room.js'

/** The last message of every scripted participant: it has sent everything it will. */
export const DONE_TEXT = '/done'

export interface ParticipantOptions {
  readonly messages: number
  readonly intervalMs: number
  /** How many participants there are: the transcript ends at the last one's DONE. */
  readonly participants: number
  /** Give up (exit 1) after this long. */
  readonly deadlineMs: number
}

/** What a scripted participant prints at the end (one JSON line). */
export interface ParticipantSummary {
  readonly name: string
  /** Ids of its messages the room's group acknowledged, in send order. */
  readonly acked: readonly string[]
  /** Sends that failed (a timeout: applied once or never, and never after a later send was answered). */
  readonly unsure: number
  /** Every message id it rendered, in order, up to the DONE of the last participant. */
  readonly transcript: readonly string[]
  readonly digest: string
}

/**
 * A chat participant without a terminal (`kv chat --participant`, what `kv chat --script` runs):
 * sends `messages` messages, one every `intervalMs`, then DONE; renders the room as a person's
 * screen would (from the log) until it has seen every participant's DONE. Its transcript up to
 * there is the same in every participant: every acknowledged message is before its sender's
 * DONE, and a message that timed out can no longer be applied once a later one was answered.
 */
export async function runParticipant(client: KvClient, room: string, name: string, o: ParticipantOptions): Promise<ParticipantSummary> {
  const chat = new ChatRoom(client, room, name)
  const stop = new AbortController()
  const deadline = setTimeout(() => stop.abort(), o.deadlineMs)
  const transcript: ChatMessage[] = []
  const done = new Set<string>()
  const following = (async () => {
    for await (const u of chat.follow(stop.signal)) {
      if (u.kind !== 'message') continue
      transcript.push(u.message)
      if (u.message.text === DONE_TEXT) done.add(u.message.from)
      if (done.size >= o.participants) return
    }
  })()
  const acked: string[] = []
  let unsure = 0
  try {
    for (let i = 1; i <= o.messages && !stop.signal.aborted; i++) {
      try {
        acked.push((await chat.send(`${name} says ${i}`, { timeoutMs: 20_000 })).id)
      } catch (e) {
        unsure++
        process.stderr.write(`${name}: message ${i} unsure: ${e instanceof Error ? e.message : String(e)}\n`)
      }
      await new Promise((r) => setTimeout(r, o.intervalMs))
    }
    // DONE until one is acknowledged (a repeated DONE is harmless: the transcript ends at the first of the last sender).
    for (let tries = 0; !stop.signal.aborted; tries++) {
      try {
        await chat.send(DONE_TEXT, { timeoutMs: 20_000 })
        break
      } catch (e) {
        process.stderr.write(`${name}: DONE unsure (${tries}): ${e instanceof Error ? e.message : String(e)}\n`)
      }
    }
    await following
  } finally {
    clearTimeout(deadline)
    stop.abort()
  }
  if (done.size < o.participants) throw new Error(`${name}: saw DONE from ${done.size} of ${o.participants} participants before the deadline`)
  const ids = transcript.map((m) => m.id)
  return { name, acked, unsure, transcript: ids, digest: createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 16) }
}

/** Checks the participants' summaries: one transcript, every acknowledged message in it once. Returns the problems. */
export function checkTranscripts(summaries: readonly ParticipantSummary[]): string[] {
  const problems: string[] = []
  const first = summaries[0]
  if (first === undefined) return ['no participant finished']
  for (const s of summaries) {
    if (s.digest !== first.digest) problems.push(`${s.name}'s transcript (${s.transcript.length} messages, ${s.digest}) differs from ${first.name}'s (${first.transcript.length}, ${first.digest})`)
    const count = new Map<string, number>()
    for (const id of s.transcript) count.set(id, (count.get(id) ?? 0) + 1)
    for (const [id, n] of count) if (n > 1) problems.push(`${s.name} rendered ${id} ${n} times`)
    for (const other of summaries) {
      for (const id of other.acked) if (count.get(id) !== 1) problems.push(`${s.name} rendered ${other.name}'s acknowledged ${id} ${count.get(id) ?? 0} times`)
    }
  }
  return problems
}

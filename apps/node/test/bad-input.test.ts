/**
 * Bad input at a real replica, over raw TCP sockets: garbage bytes, truncated frames,
 * oversized length prefixes, frames of the wrong shape, an unknown operation, a wrong token,
 * keys and values over the size limits. For each: the offending connection gets an error
 * reply or is closed, the replica keeps serving a well-behaved client, and nothing
 * acknowledged is lost (its history stays linearizable).
 */
import { BadRequestError } from '@kv/client'
import { limits } from '@kv/protocol'
import { HistoryRecorder } from '@kv/sim'
import { pack } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { attempt, expectLinearizable, printLogsOnFailure, ProcessCluster, type RecordingClient } from './harness.js'
import { lengthPrefix, RawConnection } from './raw-connection.js'

const protocols = [
  { protocol: 'raft', basePort: 21600 },
  { protocol: 'paxos', basePort: 21610 },
] as const

describe.each(protocols)('$protocol: bad input at a replica', ({ protocol, basePort }) => {
  let cluster: ProcessCluster | null = null
  const c = () => cluster!
  printLogsOnFailure(() => cluster)
  const history = new HistoryRecorder()
  let good: RecordingClient
  let leader = ''
  /** Every write the good client had acknowledged: key → value. */
  const acked = new Map<string, string>()
  let writes = 0

  beforeAll(async () => {
    cluster = ProcessCluster.start({ name: `bad-input-${protocol}`, basePort, protocol })
    leader = await cluster.waitForLeader()
    good = cluster.recordingClient(history, 0)
    await goodWrite()
  }, 120_000)
  afterAll(async () => {
    await cluster?.stop()
  })

  const auth = () => ({ clusterId: c().config.clusterId, token: c().config.token })
  /** The ports under attack: the leader's (it does the work) and a follower's. */
  const targets = () => [c().port(leader), c().port(c().ids.find((id) => id !== leader)!)]

  async function goodWrite(): Promise<void> {
    const key = `good${writes % 5}`
    const value = `w${writes++}`
    await good.put(key, value)
    acked.set(key, value)
  }

  /** Every replica is alive, every acknowledged value is read back, a new write succeeds. */
  async function expectStillServing(): Promise<void> {
    for (const id of c().ids) expect(c().isRunning(id), `${id} died`).toBe(true)
    for (const [key, value] of acked) expect(await good.get(key)).toBe(value)
    await goodWrite()
    expectLinearizable(history)
  }

  function kvRequest(id: number, op: Record<string, unknown>, seq = 1): Record<string, unknown> & { type: string } {
    return { type: 'kv', id, clientId: `raw-${Math.random().toString(36).slice(2)}`, seq, ackedSeq: 0, op }
  }

  it('closes a connection that sends garbage bytes before any hello', async () => {
    for (const port of targets()) {
      const http = await RawConnection.connect(port)
      http.writeBytes(Buffer.from('GET / HTTP/1.1\r\nHost: kv\r\n\r\n'))
      expect(await http.closedWithin()).toBe(true)

      const junk = await RawConnection.connect(port)
      junk.writeBytes(Buffer.concat([lengthPrefix(6), Buffer.from([0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1])]))
      expect(await junk.closedWithin()).toBe(true)
      expect(junk.messages).toEqual([])
    }
    await expectStillServing()
  })

  it('survives a truncated frame followed by a close, before and after the hello', async () => {
    for (const port of targets()) {
      const before = await RawConnection.connect(port)
      before.writeBytes(Buffer.concat([lengthPrefix(100), Buffer.alloc(10, 0x61)]))
      before.end()
      expect(await before.closedWithin()).toBe(true)

      const after = await RawConnection.hello(port, auth())
      const frame = Buffer.from(pack(kvRequest(1, { op: 'put', key: 'trunc', value: new Uint8Array([1, 2, 3]) })))
      after.writeBytes(Buffer.concat([lengthPrefix(frame.length), frame.subarray(0, Math.floor(frame.length / 2))]))
      after.end()
      expect(await after.closedWithin()).toBe(true)
    }
    expect(await good.get('trunc')).toBeNull()
    await expectStillServing()
  })

  it('closes a connection that announces an oversized frame', async () => {
    for (const port of targets()) {
      // Before the hello the bound is 4 KiB; after it, 16 MiB.
      const early = await RawConnection.connect(port)
      early.writeBytes(lengthPrefix(64 * 1024))
      expect(await early.closedWithin()).toBe(true)

      const late = await RawConnection.hello(port, auth())
      late.writeBytes(lengthPrefix(0xffff_ffff))
      expect(await late.closedWithin()).toBe(true)

      const empty = await RawConnection.hello(port, auth())
      empty.writeBytes(lengthPrefix(0))
      expect(await empty.closedWithin()).toBe(true)
    }
    await expectStillServing()
  })

  it('answers requests of the wrong shape after a valid hello with BAD_REQUEST, and closes on frames that are not messages', async () => {
    const conn = await RawConnection.hello(c().port(leader), auth())
    const shapes: Array<Record<string, unknown> & { type: string }> = [
      { type: 'kv', id: 1, clientId: 42 },
      { type: 'kv', id: 2, clientId: 'x', seq: -1, ackedSeq: 0, op: { op: 'get', key: 'a' } },
      { type: 'kv', id: 3, clientId: 'x', seq: 1, ackedSeq: 0, op: 'put' },
      { type: 'kv', id: 4, clientId: 'x', seq: 1, ackedSeq: 0, op: { op: 'put', key: 'a', value: 'not bytes' } },
      { type: 'kv', id: 5, clientId: 'x', seq: 1, ackedSeq: 0, op: { op: 'batchPut', entries: [['a']] } },
      { type: 'AppendEntries', id: 6, term: 99, from: 'g1-r2', to: leader },
    ]
    for (const msg of shapes) {
      conn.send(msg)
      const reply = await conn.nextMessage()
      expect(reply, JSON.stringify(msg)).toMatchObject({ type: 'error', code: 'BAD_REQUEST', id: msg.id })
    }
    expect(conn.closed).toBe(false)

    // A frame whose payload is a bare number, or that has no integer id: the connection is closed.
    const bare = await RawConnection.hello(c().port(leader), auth())
    const payload = Buffer.from(pack(42))
    bare.writeBytes(Buffer.concat([lengthPrefix(payload.length), payload]))
    expect(await bare.closedWithin()).toBe(true)
    const noId = await RawConnection.hello(c().port(leader), auth())
    noId.send({ type: 'kv', clientId: 'x', seq: 1, ackedSeq: 0, op: { op: 'get', key: 'a' } })
    expect(await noId.closedWithin()).toBe(true)
    conn.destroy()
    await expectStillServing()
  })

  it('ignores peer messages of the wrong shape from an authenticated peer', async () => {
    const other = c().ids.find((id) => id !== leader)!
    // Peers present the peer token (a client token is refused as a peer's: see netns.test.ts).
    const peer = await RawConnection.hello(c().port(leader), { clusterId: auth().clusterId, token: c().config.peerToken ?? auth().token }, 'peer', other)
    const junk: Array<Record<string, unknown> & { type: string }> = [
      { type: 'AppendEntries', from: other, to: leader, term: 'high' },
      { type: 'AppendEntries', from: other, to: leader, term: 1e12, entries: 'none' },
      { type: 'RequestVote', from: other, to: leader, term: -5, lastLogIndex: null },
      { type: 'accept', from: other, to: leader, ballot: { round: 'x' }, slot: -1 },
      { type: 'prepare', from: other, to: leader, ballot: null },
      { type: 'nonsense', from: other, to: leader },
      { type: 'AppendEntries', from: 'g9-r9', to: leader, term: 1 },
      { type: 'AppendEntries', from: other, to: 'someone-else', term: 1 },
    ]
    for (const msg of junk) peer.send(msg)
    // Let the replica chew on them for a few ticks.
    await new Promise((r) => setTimeout(r, 500))
    peer.destroy()
    await expectStillServing()
  })

  it('answers an unknown operation with BAD_REQUEST and applies nothing', async () => {
    const conn = await RawConnection.hello(c().port(leader), auth())
    conn.send(kvRequest(7, { op: 'incr', key: 'good0' }))
    const reply = await conn.nextMessage()
    expect(reply).toMatchObject({ type: 'error', code: 'BAD_REQUEST', id: 7 })
    expect(String(reply?.message)).toContain('incr')
    conn.destroy()
    await expectStillServing()
  })

  it('refuses a hello with a wrong token or cluster id, and closes', async () => {
    for (const port of targets()) {
      const wrongToken = await RawConnection.connect(port)
      wrongToken.send({ type: 'hello', clusterId: auth().clusterId, token: 'not-the-token', role: 'client' })
      expect(await wrongToken.nextMessage()).toMatchObject({ type: 'refused', reason: 'wrong token' })
      expect(await wrongToken.closedWithin()).toBe(true)

      const wrongCluster = await RawConnection.connect(port)
      wrongCluster.send({ type: 'hello', clusterId: 'another-cluster', token: auth().token, role: 'peer', nodeId: 'g1-r2' })
      expect(await wrongCluster.nextMessage()).toMatchObject({ type: 'refused' })
      expect(await wrongCluster.closedWithin()).toBe(true)

      // A request before any hello.
      const noHello = await RawConnection.connect(port)
      noHello.send(kvRequest(1, { op: 'get', key: 'good0' }))
      expect(await noHello.closedWithin()).toBe(true)
      expect(noHello.messages.filter((m) => m.type === 'result')).toEqual([])
    }
    await expectStillServing()
  })

  it('refuses a key and a value over the size limits: BadRequestError from the client, an error reply to a raw frame', async () => {
    const longKey = 'k'.repeat(limits.maxKeyBytes + 1)
    const bigValue = 'v'.repeat(limits.maxValueBytes + 1)
    for (const call of [good.put(longKey, 'x'), good.put('big', bigValue), good.get(longKey), good.delete(longKey), good.batchPut([['ok', 'x'], [longKey, 'y']])]) {
      const r = await attempt<unknown>(call)
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.error).toBeInstanceOf(BadRequestError)
    }
    // Multi-byte characters count in bytes: 513 two-byte characters are over 1024 bytes.
    const r = await attempt(good.put('é'.repeat(513), 'x'))
    expect(r.ok).toBe(false)

    const conn = await RawConnection.hello(c().port(leader), auth())
    conn.send(kvRequest(11, { op: 'put', key: longKey, value: new Uint8Array(1) }))
    expect(await conn.nextMessage()).toMatchObject({ type: 'error', code: 'BAD_REQUEST', id: 11 })
    conn.send(kvRequest(12, { op: 'put', key: 'big', value: new Uint8Array(limits.maxValueBytes + 1) }))
    expect(await conn.nextMessage()).toMatchObject({ type: 'error', code: 'BAD_REQUEST', id: 12 })
    expect(conn.closed).toBe(false)
    conn.destroy()
    expect(await good.get('big')).toBeNull()
    // At the limit exactly is fine.
    await good.put('k'.repeat(limits.maxKeyBytes), 'at-limit')
    expect(await good.get('k'.repeat(limits.maxKeyBytes))).toBe('at-limit')
    await expectStillServing()
  })
})

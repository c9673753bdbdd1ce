/**
 * `kv chat` on real nodes, Raft and Paxos side by side: three participant processes over a
 * cluster that drops messages (--drop-rate low on every link) and loses its leader to SIGKILL
 * end with one transcript holding every acknowledged message once; `--history` prints it; and a
 * person at a terminal (tmux: send-keys to type, capture-pane to read the screen) sees the same
 * messages in the same order as the other participant, each once, with a half-typed line kept
 * at the prompt while messages arrive, across a killed leader. `kv chat --script --config` runs
 * the scripted check against that cluster.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { checkTranscripts, type ParticipantSummary } from '../src/chat/participant.js'
import { kvNodeArgs, runKv, sleep, spawnKv, startCluster, waitFor, type KvRun } from './harness.js'

const show = (r: KvRun) => `exit ${r.code} (${r.signal ?? 'no signal'})\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`

describe.concurrent.each(['raft', 'paxos'] as const)('%s: kv chat', (protocol) => {
  it('three participants over a cluster dropping messages, its leader SIGKILLed, end with one transcript holding every acknowledged message once', async (ctx) => {
    const basePort = protocol === 'raft' ? 22800 : 22820
    const cluster = await startCluster(ctx, { name: `chat-${protocol}`, basePort, protocol, nodeFlags: ['--drop-rate', 'low'] })
    await cluster.waitForLeader()
    const names = ['ann', 'bob', 'cat']
    const runs = names.map((name) =>
      spawnKv(['--config', cluster.configPath, 'chat', '--participant', '--room', 'lobby', '--name', name, '--messages', '25', '--interval-ms', '40', '--participants', '3']),
    )
    await sleep(1500)
    const leader = await cluster.waitForLeader()
    await cluster.kill(leader, 'SIGKILL')
    await sleep(1000)
    await cluster.restart(leader)
    const outs = await Promise.all(runs.map((r) => r.done))
    for (const out of outs) expect(out.code, show(out)).toBe(0)
    const summaries = outs.map((o) => JSON.parse(o.stdout.trim().split('\n').at(-1)!) as ParticipantSummary)
    expect(checkTranscripts(summaries)).toEqual([])
    for (const s of summaries) expect(s.acked.length + s.unsure).toBe(25)
    expect(summaries.reduce((n, s) => n + s.acked.length, 0)).toBeGreaterThan(60)
    // --history prints the room in the same order: each participant's acknowledged lines in it, in its order.
    const history = await runKv(['--config', cluster.configPath, 'chat', '--room', 'lobby', '--history'])
    expect(history.code, show(history)).toBe(0)
    const lines = history.stdout.trim().split('\n')
    expect(lines.length).toBeGreaterThanOrEqual(summaries[0]!.transcript.length)
    for (const s of summaries) {
      const mine = lines.filter((l) => l.includes(`] ${s.name}: ${s.name} says `)).map((l) => Number(l.split(' says ')[1]))
      expect(mine).toEqual([...mine].sort((a, b) => a - b))
      expect(new Set(mine).size).toBe(mine.length)
    }
    await cluster.waitForConvergence()
  }, 120_000)

  it('a person in a terminal sees the same messages in the same order as the other participant, each once, across a killed leader', async (ctx) => {
    try {
      execFileSync('tmux', ['-V'])
    } catch {
      throw new Error('tmux is not installed: apt-get install -y tmux (.ci/run installs it)')
    }
    const basePort = protocol === 'raft' ? 22840 : 22860
    const cluster = await startCluster(ctx, { name: `chat-tty-${protocol}`, basePort, protocol })
    await cluster.waitForLeader()
    const socket = `kv-test-${process.pid}-${protocol}`
    const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' })
    ctx.onTestFinished(() => {
      try {
        tmux('kill-server')
      } catch {
        // already gone
      }
    })
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
    const chat = (name: string) => [process.execPath, ...kvNodeArgs, '--config', cluster.configPath, 'chat', '--room', 'tty', '--name', name].map(quote).join(' ')
    for (const name of ['alice', 'bob']) tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '20', chat(name))
    const screen = (name: string) => tmux('capture-pane', '-p', '-t', name)
    const until = (name: string, what: string, ok: (s: string) => boolean) =>
      waitFor(`${name}'s screen to show ${what}`, () => Promise.resolve(ok(screen(name)) ? true : undefined), 30_000, 100).catch((e: unknown) => {
        throw new Error(`${e instanceof Error ? e.message : String(e)}; the screen:\n${screen(name)}`)
      })
    const messages = (s: string) => s.split('\n').filter((l) => /^\[\d\d:\d\d:\d\d\] /.test(l)).map((l) => l.slice(11))
    // (capture-pane drops trailing spaces: an empty prompt reads "alice>")
    await until('alice', 'the prompt', (s) => /^alice>/m.test(s))
    await until('bob', 'the prompt', (s) => /^bob>/m.test(s))

    tmux('send-keys', '-t', 'alice', 'hello from alice', 'Enter')
    await until('bob', 'alice\'s message', (s) => messages(s).includes('alice: hello from alice'))
    tmux('send-keys', '-t', 'alice', 'half-typed draft') // typed, not sent
    tmux('send-keys', '-t', 'bob', 'hi alice, bob here', 'Enter')
    await until('alice', 'bob\'s answer', (s) => messages(s).includes('bob: hi alice, bob here'))
    const lastLine = (s: string) => s.trimEnd().split('\n').at(-1)
    expect(lastLine(screen('alice'))).toBe('alice> half-typed draft') // the draft stays at the prompt, below the messages

    const leader = await cluster.waitForLeader()
    await cluster.kill(leader, 'SIGKILL')
    tmux('send-keys', '-t', 'bob', 'after the crash', 'Enter')
    await until('alice', 'the message sent across the crash', (s) => messages(s).includes('bob: after the crash'))
    await until('bob', 'the message sent across the crash', (s) => messages(s).includes('bob: after the crash'))
    const expected = ['alice: hello from alice', 'bob: hi alice, bob here', 'bob: after the crash']
    expect(messages(screen('alice'))).toEqual(expected)
    expect(messages(screen('bob'))).toEqual(expected)

    // The draft is sent now; /quit leaves (the pane closes).
    tmux('send-keys', '-t', 'alice', 'Enter')
    await until('bob', 'the draft', (s) => messages(s).at(-1) === 'alice: half-typed draft')
    tmux('send-keys', '-t', 'alice', '/quit', 'Enter')
    await waitFor('alice to leave', () => Promise.resolve(tmux('list-sessions', '-F', '#{session_name}').includes('alice') ? undefined : true), 10_000, 100)

    const history = await runKv(['--config', cluster.configPath, 'chat', '--room', 'tty', '--history'])
    expect(messages(history.stdout)).toEqual([...expected, 'alice: half-typed draft'])
    if (protocol === 'raft') {
      await cluster.restart(leader)
      const script = await runKv(['--config', cluster.configPath, 'chat', '--script', '--clients', '2', '--messages', '5', '--interval-ms', '10', '--room', 'scripted'], 60_000)
      expect(script.code, show(script)).toBe(0)
      expect(script.stdout).toContain('transcripts agree')
      expect(script.stdout).toMatch(/^replicas agree/m)
    }
  }, 120_000)
})

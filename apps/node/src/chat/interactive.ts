import readline from 'node:readline'
import type { KvClient } from '@kv/client'
import { ChatRoom, formatMessage } from './room.js'

/**
 * The terminal chat: messages above, a prompt at the bottom. A typed line is appended to the
 * room's log (exactly once) and erased from the prompt; it appears above, like every other
 * message, when the log hands it out: so every screen shows the log's order. Ctrl-D, Ctrl-C or
 * /quit leaves.
 */
export async function interactiveChat(client: KvClient, room: string, name: string): Promise<void> {
  const chat = new ChatRoom(client, room, name)
  const out = process.stdout
  const rl = readline.createInterface({ input: process.stdin, output: out, prompt: `${name}> `, terminal: out.isTTY })
  const stop = new AbortController()
  /** Prints a line above the prompt, keeping what is typed so far. */
  const show = (text: string) => {
    if (out.isTTY) {
      readline.clearLine(out, 0)
      readline.cursorTo(out, 0)
    }
    out.write(`${text}\n`)
    if (!stop.signal.aborted) rl.prompt(true)
  }
  rl.on('line', (line) => {
    // The terminal echoed the line under the prompt: take it away; it comes back from the log.
    if (out.isTTY) {
      readline.moveCursor(out, 0, -1)
      readline.clearLine(out, 0)
    }
    const text = line.trim()
    if (text === '/quit') return rl.close()
    if (text !== '') {
      chat.send(text, { timeoutMs: 30_000 }).catch((e: unknown) => {
        show(`(not sure this was sent: "${text}": ${e instanceof Error ? e.message : String(e)})`)
      })
    }
    rl.prompt(true)
  })
  rl.on('close', () => stop.abort())
  show(`room ${JSON.stringify(room)} as ${name}: type a message and Enter; /quit or Ctrl-D leaves`)
  try {
    for await (const update of chat.follow(stop.signal)) show(update.kind === 'message' ? formatMessage(update.message) : update.text)
  } catch (e) {
    if (!stop.signal.aborted) show(`error: ${e instanceof Error ? e.message : String(e)}`)
    process.exitCode = 3
  } finally {
    stop.abort()
    rl.close()
  }
}

import { InvalidArgumentError, type Command } from 'commander'
import { intArg, protocolArg } from '../args.js'
import { openCluster, type TargetFlags } from '../client-target.js'
import { UsageError } from '../exit-codes.js'
import { interactiveChat } from './interactive.js'
import { runParticipant } from './participant.js'
import { ChatRoom, formatMessage } from './room.js'
import { runChatScript } from './script.js'

interface ChatFlags {
  room?: string
  name?: string
  history?: boolean
  script?: boolean
  participant?: boolean
  faults: number
  groups: number
  protocol: 'raft' | 'paxos'
  basePort: number
  clients: number
  drop?: string
  messages: number
  intervalMs: number
  participants: number
  killLeader?: boolean
  keep?: boolean
}

function roomArg(v: string): string {
  if (!/^[\w.-]{1,64}$/.test(v)) throw new InvalidArgumentError('expected 1 to 64 letters, digits, _ . or -')
  return v
}

/** `kv chat`: a terminal chat on the store, its history, and the scripted test of it. */
export function addChatCommand(program: Command): void {
  program
    .command('chat')
    .description('an interactive chat on the store: --room R --name N (--history prints the room); --script runs N scripted participants against a cluster and checks their transcripts')
    .option('--room <room>', 'the room (its log is the key chat/<room>)', roomArg)
    .option('--name <name>', 'your name in the room', roomArg)
    .option('--history', 'print the room\'s messages and exit')
    .option('--script', 'start a local cluster (or use --config), run --clients participant processes that send continuously, then print each transcript\'s and each replica\'s digest')
    .option('--participant', 'one scripted participant (what --script runs): send --messages, render the room, print a JSON summary')
    .option('-f, --faults <f>', 'script: faults tolerated per group (2f+1 replicas)', intArg(0, 4), 1)
    .option('--groups <g>', 'script: shard groups of its cluster', intArg(1, 16), 1)
    .option('--protocol <p>', 'script: raft or paxos', protocolArg, 'raft')
    .option('--base-port <port>', 'script: first port of its cluster', intArg(1, 65535), 7600)
    .option('--clients <n>', 'script: participant processes', intArg(1, 64), 3)
    .option('--drop <rate>', 'script: every replica drops messages at this rate (low, medium, high or a probability)')
    .option('--messages <m>', 'script/participant: messages each participant sends', intArg(0, 100_000), 30)
    .option('--interval-ms <ms>', 'script/participant: pause between two messages', intArg(0, 60_000), 30)
    .option('--participants <n>', 'participant: how many participants send (the transcript ends at the last one\'s DONE)', intArg(1, 64), 1)
    .option('--kill-leader', 'script: SIGKILL the room group\'s leader mid-way, then restart it')
    .option('--keep', 'script: keep its cluster\'s data folder')
    .action(async (o: ChatFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals<TargetFlags & { timeout?: number }>()
      const { config: configPath, timeout } = globals
      if (o.script === true) {
        process.exitCode = await runChatScript({
          ...(configPath === undefined ? {} : { config: configPath }),
          faults: o.faults, groups: o.groups, protocol: o.protocol, basePort: o.basePort, clients: o.clients,
          ...(o.drop === undefined ? {} : { drop: o.drop }),
          messages: o.messages, intervalMs: o.intervalMs, killLeader: o.killLeader === true, ...(o.room === undefined ? {} : { room: o.room }), keep: o.keep === true,
        })
        return
      }
      if (o.room === undefined) throw new UsageError('--room <room> is required')
      if (o.history !== true && o.name === undefined) throw new UsageError('--name <name> is required')
      const client = (await openCluster(globals, timeout ?? 20_000)).client(timeout ?? 20_000)
      try {
        if (o.history === true) {
          for (const m of await new ChatRoom(client, o.room, o.name ?? '-').history()) console.log(formatMessage(m))
          return
        }
        const name = o.name!
        if (o.participant === true) {
          const summary = await runParticipant(client, o.room, name, { messages: o.messages, intervalMs: o.intervalMs, participants: o.participants, deadlineMs: 180_000 })
          console.log(JSON.stringify(summary))
          return
        }
        await interactiveChat(client, o.room, name)
      } finally {
        await client.close()
      }
    })
}

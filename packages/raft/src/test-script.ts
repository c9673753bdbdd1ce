/**
 * Scenario scripts for golden tests (etcd-io/raft's testdata style). One command per line:
 *
 *   campaign n1          tick only n1 until it campaigns
 *   tick [n1 n2] [3]     tick the given nodes (default all), 3 times (default 1)
 *   deliver [5]          deliver queued messages (all, or the first 5)
 *   drop n1 n2           drop queued messages from n1 to n2 (`*` matches any node)
 *   partition n1 | n2 n3 cut every link between the groups; `heal` restores them
 *   crash n2 / restart n2
 *   propose n1 data / read n1 ctx / transfer n1 n3 / compact n1 / status
 *
 * The output echoes each command, then the Readys it caused and the messages dropped.
 */
import { isNotLeader } from '@kv/consensus'
import { Cluster, type ClusterOptions } from './test-cluster.js'

export function runScript(script: string, options: ClusterOptions = {}): string {
  const c = new Cluster({ ...options, trace: true })
  const out: string[] = []
  for (const raw of script.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    out.push(`> ${line}`)
    const result = runCommand(c, line)
    out.push(...c.trace, ...(result === null ? [] : [`  = ${result}`]))
    c.trace.length = 0
  }
  return `${out.join('\n')}\n`
}

function nodesAndCount(c: Cluster, args: string[]): { ids: string[]; count: number } {
  const ids = args.filter((a) => c.ids.includes(a))
  const count = Number(args.find((a) => /^\d+$/.test(a)) ?? '1')
  return { ids: ids.length > 0 ? ids : c.ids, count }
}

function runCommand(c: Cluster, line: string): string | null {
  const [command = '', ...args] = line.split(/\s+/)
  const at = (i: number): string => {
    const arg = args[i]
    if (arg === undefined) throw new Error(`${command}: missing argument ${i + 1}`)
    return arg
  }
  switch (command) {
    case 'campaign':
      c.campaign(at(0))
      return null
    case 'tick': {
      const { ids, count } = nodesAndCount(c, args)
      c.tick(count, ids)
      return null
    }
    case 'deliver':
      c.deliverAll(args[0] === undefined ? undefined : Number(args[0]))
      return null
    case 'drop': {
      const [from, to] = [at(0), at(1)]
      const dropped = c.drop((m) => (from === '*' || m.from === from) && (to === '*' || m.to === to))
      return `${dropped} dropped`
    }
    case 'partition': {
      const groups = args.join(' ').split('|').map((g) => g.trim().split(/\s+/))
      c.partition(...groups)
      return null
    }
    case 'heal':
      c.heal()
      return null
    case 'crash':
      c.crash(at(0))
      return null
    case 'restart':
      c.restart(at(0))
      return null
    default:
      return clientCommand(c, command, args)
  }
}

function clientCommand(c: Cluster, command: string, args: string[]): string | null {
  const [id = '', arg = ''] = args
  switch (command) {
    case 'propose': {
      const result = c.propose(id, arg)
      return isNotLeader(result) ? `not leader (hint ${result.leader ?? '-'})` : `index ${result.index} term ${result.term}`
    }
    case 'read': {
      const result = c.core(id).readIndex(Number(arg))
      c.processReady(id)
      return result === null ? null : `not leader (hint ${result.leader ?? '-'})`
    }
    case 'transfer':
      c.core(id).transferLeadership(arg)
      c.processReady(id)
      return null
    case 'compact': {
      const snapshot = c.compact(id)
      return `snapshot ${snapshot.index}/${snapshot.term}`
    }
    case 'status':
      return c.ids
        .map((n) => {
          if (!c.isUp(n)) return `${n} down`
          const s = c.core(n).status()
          return `${n} ${s.role} t${s.term} leader=${s.leader ?? '-'} commit=${s.commitIndex} last=${s.lastIndex} applied=${s.appliedIndex}`
        })
        .join('; ')
    default:
      throw new Error(`unknown command: ${command}`)
  }
}

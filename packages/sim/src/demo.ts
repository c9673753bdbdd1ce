import { checkLinearizability } from './linearizability/index.js'
import type { Protocol } from './protocols.js'
import { SimWorld } from './world.js'

/** A narrated run for newcomers: election, load, a leader crash, a partition, recovery, checks. */
export function runDemo(protocol: Protocol, seed: number): number {
  const w = new SimWorld({ seed, protocol, replicas: 3 })
  const say = (msg: string) => console.log(`[${(w.now / 1000).toFixed(3)}s] ${msg}`)
  say(`3 ${protocol} replicas start (seed ${seed}; virtual time, simulated network and disks)`)
  w.runUntil(() => w.leader() !== null, 5000)
  say(`${w.leader()?.id ?? 'nobody'} is elected leader`)
  w.addClients(4, { kind: 'mixed', keys: 4, opsPerClient: null })
  say('4 clients start get/put/append/delete/batchPut on 4 keys')
  w.runFor(1000)
  const victim = w.leader()
  if (victim !== null) {
    victim.crash()
    say(`leader ${victim.id} crashes`)
  }
  w.runUntil(() => w.leader() !== null, 5000)
  say(`${w.leader()?.id ?? 'nobody'} takes over`)
  w.runFor(1000)
  if (victim !== null) {
    victim.start()
    say(`${victim.id} restarts from its disk and catches up`)
  }
  const [a, b, c] = w.nodes
  w.net.partition([[a!.id], [b!.id, c!.id]])
  say(`network partition: ${a!.id} | ${b!.id}, ${c!.id}`)
  w.runFor(1000)
  w.net.heal()
  say('partition heals')
  w.runFor(500)
  const quiet = w.quiesce()
  const converged = w.converge()
  const ops = w.history.operations()
  say(`clients stop: ${ops.length} operations done; ${quiet ? 'all answered' : 'some still waiting'}`)
  for (const n of w.nodes) {
    const r = n.replica!
    say(`  ${n.id}: applied index ${r.stateMachine.appliedIndex}, ${n.kv.size} keys, digest ${r.stateMachine.digest()}`)
  }
  const check = checkLinearizability(ops)
  say(`replicas ${converged ? 'agree' : 'DISAGREE'}; history is ${check.result === 'ok' ? 'linearizable' : check.result.toUpperCase()}`)
  return converged && check.result === 'ok' ? 0 : 1
}

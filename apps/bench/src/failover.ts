/**
 * Failover rows: a fresh 3-replica cluster under a steady write load; FAILOVER_FAULT_AT_MS
 * into the measured window its leader is either SIGKILLed or cut off from its peers with
 * iptables (clients on 127.0.0.1 still reach it: they must find out it no longer leads).
 * The row reports the longest time between two acknowledged writes and the time until the
 * throughput is back to ≥ 90 % of what it was before the fault.
 *
 * The iptables cut reuses the process tests' firewall (apps/node/test/firewall.ts): each
 * replica listens and dials from its own loopback address, and one atomic iptables-restore
 * drops every packet between the leader's address and its peers'.
 */
import { createRng } from '@kv/consensus'
import { Firewall, type ClusterLinks, type FirewallCluster } from '../../node/test/firewall.js'
import { FAILOVER_BUCKET_MS, FAILOVER_FAULT_AT_MS, FAILOVER_MEASURE_MS, connectionsFor, type Stage } from './plan.js'
import type { Row } from './result.js'
import { measureRow, type RunContext } from './run.js'
import { failoverMetrics } from './stats.js'
import { KvCluster } from './systems/kv.js'
import { valueOf } from './workload.js'

let firewall: Firewall | null = null

/** The firewall of this process, opened on first use (needs root and iptables). */
function openFirewall(): Firewall {
  firewall ??= Firewall.open()
  return firewall
}

/** Removes every rule the bench added; also done at exit by the firewall itself. */
export function closeFirewall(): void {
  firewall?.close()
  firewall = null
}

/** The bench's cluster as the firewall addresses replicas: ids, and each one's loopback address. */
function asFirewallCluster(c: KvCluster): FirewallCluster {
  const ids = c.replicaIds()
  return { ids, id: (i: number) => ids[i]!, host: (id: string) => c.host(id) }
}

export async function runFailover(stage: Extract<Stage, { kind: 'failover' }>, ctx: RunContext): Promise<Row> {
  const fw = stage.fault === 'iptables' ? openFirewall() : null
  const dir = ctx.scratch(`failover-${stage.protocol}-${stage.fault}`)
  const cluster = await KvCluster.start({ dir, protocol: stage.protocol, groups: 1, basePort: ctx.ports.take(), spreadHosts: true })
  let links: ClusterLinks | null = null
  const conns = await cluster.connect(connectionsFor(stage.point.concurrency))
  try {
    const victim = await cluster.leaderOf('g1')
    if (victim === null) throw new Error('failover: no leader to strike')
    if (fw !== null) links = fw.links(asFirewallCluster(cluster))
    const fault = async () => {
      if (stage.fault === 'sigkill') await cluster.kill(victim)
      else links!.isolate(victim)
    }
    const label = `${cluster.info.label} failover: ${stage.fault === 'sigkill' ? 'SIGKILL' : 'iptables cut'} of the leader`
    ctx.progress.step(label, ctx.o.warmupSeconds + FAILOVER_MEASURE_MS / 1000)
    const value = valueOf(stage.point.valueBytes, createRng(stage.point.valueBytes))
    let eventAtMs: number | null = null
    let timeline: number[] = []
    let longestGapMs = 0
    const row = await measureRow(cluster, conns.drivers, stage.point, value, ctx, {
      type: 'failover',
      measureMs: FAILOVER_MEASURE_MS,
      event: { atMs: FAILOVER_FAULT_AT_MS, run: fault },
      onResult: (r) => {
        eventAtMs = r.eventAtMs
        timeline = r.timeline
        longestGapMs = r.longestGapMs
      },
    })
    const faultAtMs = eventAtMs ?? FAILOVER_FAULT_AT_MS
        const m = failoverMetrics(timeline, FAILOVER_BUCKET_MS, faultAtMs)
    const done: Row = {
      ...row,
      id: `${row.id}/${stage.fault}`,
      failover: {
        fault: stage.fault,
        victim,
        newLeader: await cluster.leaderOf('g1'),
        faultAtSeconds: Math.round(faultAtMs) / 1000,
        preFaultOpsPerSecond: m.preFaultOpsPerSecond,
        longestGapMs,
        recoverySeconds: m.recoverySeconds,
        bucketMs: FAILOVER_BUCKET_MS,
        timeline,
      },
    }
    ctx.progress.row(`${label}: longest gap ${(done.failover!.longestGapMs / 1000).toFixed(2)} s, back to ≥90 % after ${m.recoverySeconds === null ? 'never' : `${m.recoverySeconds.toFixed(2)} s`}`)
    return done
  } finally {
    await conns.close()
    links?.release()
    await cluster.stop()
  }
}

import { describe, expect, it } from 'vitest'
import { BenchUsageError, parseBenchArgs, quickPreset } from './flags.js'

const usageError = (argv: string[]): string => {
  try {
    parseBenchArgs(argv)
  } catch (e) {
    expect(e).toBeInstanceOf(BenchUsageError)
    return (e as Error).message
  }
  throw new Error(`accepted ${argv.join(' ')}`)
}

describe('bench flags', () => {
  it('runs the whole matrix by default: both protocols, four scenarios, two value sizes, four concurrencies, etcd and redis', () => {
    const o = parseBenchArgs([])
    expect(o).toMatchObject({
      protocols: ['raft', 'paxos'], scenarios: ['write', 'read', 'mixed', 'ycsb-a'], valueBytes: [100, 4096], concurrency: [1, 16, 64, 256],
      seconds: 10, groups: [1], failover: [], compare: ['etcd', 'redis'], compareExplicit: false, quick: false, progress: true, json: null, html: null,
    })
  })

  it('takes comma lists, sorted and without repeats where order does not matter', () => {
    const o = parseBenchArgs(['--protocol', 'paxos', '--concurrency', '256,1,64,64', '--value-bytes', '4096,100', '--groups', '4,1,2', '--scenario', 'ycsb-a,write'])
    expect(o.protocols).toEqual(['paxos'])
    expect(o.concurrency).toEqual([1, 64, 256])
    expect(o.valueBytes).toEqual([100, 4096])
    expect(o.groups).toEqual([1, 2, 4])
    expect(o.scenarios).toEqual(['ycsb-a', 'write'])
    expect(parseBenchArgs(['--protocol', 'raft', 'paxos', '--concurrency', '16', '64']).protocols).toEqual(['raft', 'paxos'])
  })

  it('--quick is a preset: one failover row (the first protocol), comparators included; explicit flags win', () => {
    const q = parseBenchArgs(['--quick'])
    expect(q).toMatchObject({ quick: true, scenarios: quickPreset.scenario, concurrency: [64, 256], valueBytes: [100], failover: ['sigkill'], failoverProtocols: ['raft'] })
    expect(parseBenchArgs(['--quick', '--seconds', '2', '--compare', 'redis'])).toMatchObject({ seconds: 2, compare: ['redis'], compareExplicit: true })
    expect(parseBenchArgs(['--quick', '--failover', 'iptables']).failoverProtocols).toEqual(['raft', 'paxos'])
  })

  it('--failover alone means both faults; --compare none means no comparator; --no-progress turns the bar off', () => {
    expect(parseBenchArgs(['--failover']).failover).toEqual(['sigkill', 'iptables'])
    expect(parseBenchArgs(['--failover', 'iptables']).failover).toEqual(['iptables'])
    expect(parseBenchArgs(['--compare', 'none']).compare).toEqual([])
    expect(parseBenchArgs(['--no-progress']).progress).toBe(false)
    expect(parseBenchArgs(['--json', 'out/b.json', '--html', 'b.html'])).toMatchObject({ json: 'out/b.json', html: 'b.html' })
  })

  it.each([
    [['--protocol', 'zab'], /unknown protocol "zab" \(expected raft, paxos\)/],
    [['--scenario', 'write,scan'], /unknown scenario "scan"/],
    [['--compare', 'mysql'], /unknown comparator "mysql" \(expected etcd, redis\)/],
    [['--failover', 'reboot'], /unknown fault "reboot" \(expected sigkill, iptables\)/],
    [['--concurrency', '0'], /--concurrency.*expected integers from 1 to 4096/],
    [['--concurrency', '16,x'], /expected integers/],
    [['--value-bytes', '1.5'], /--value-bytes.*expected integers/],
    [['--groups', '17'], /expected integers from 1 to 16/],
    [['--seconds', 'ten'], /--seconds.*expected a number from 0.5 to 3600/],
    [['--records', '1'], /--records.*expected an integer from 2/],
    [['--protocol'], /argument missing/],
    [['--turbo'], /unknown option '--turbo'/],
    [['extra'], /too many arguments/],
  ])('refuses %j, naming what is wrong', (argv, message) => {
    expect(usageError(argv)).toMatch(message)
  })
})

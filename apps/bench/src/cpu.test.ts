import { describe, expect, it } from 'vitest'
import { cpuReport, cpuSecondsOf, CpuWindow, parseMachineBusyTicks, parseStatTicks } from './cpu.js'

describe('CPU readings', () => {
  it('reads utime + stime from a /proc/<pid>/stat line, whatever the command name holds', () => {
    const line = '4242 (node (worker) x) S 1 4242 4242 0 -1 4194304 1234 0 0 0 250 75 0 0 20 0 11 0 100 0 0'
    expect(parseStatTicks(line)).toBe(325)
  })

  it('reads the busy ticks of the whole machine from /proc/stat (idle and iowait left out)', () => {
    expect(parseMachineBusyTicks('cpu  100 5 50 1000 30 2 3 4 0 0\ncpu0 1 2 3 4\n')).toBe(164)
  })

  it('measures the CPU a busy process uses over a window, as /proc and process.cpuUsage() both count it', () => {
    const w = new CpuWindow([{ name: 'self', pid: process.pid }])
    const used = () => (process.cpuUsage().user + process.cpuUsage().system) / 1e6
    // Spin until 200 ms of CPU are spent (however busy the machine is), at most 10 s of wall time.
    const start = used()
    const deadline = performance.now() + 10_000
    let x = 0
    while (used() - start < 0.2 && performance.now() < deadline) x += Math.sqrt(x + 1)
    const stopped = w.stop()
    const r = cpuReport(stopped, () => 'test')
    expect(x).toBeGreaterThan(0)
    const cpuSecondsFromProc = stopped.servers[0]!.cores * stopped.wallSeconds
    const cpuSecondsFromNode = stopped.loadGenerator * stopped.wallSeconds
    expect(cpuSecondsFromNode).toBeGreaterThanOrEqual(0.2)
    // /proc counts in clock ticks (10 ms): the two agree within a few ticks.
    expect(Math.abs(cpuSecondsFromProc - cpuSecondsFromNode)).toBeLessThan(0.05)
    expect(r.busiestServer).toBe('self')
    expect(r.processes.map((p) => p.name)).toEqual(['self', 'load-generator'])
    expect(r.otherCores).not.toBeNull()
  })

  it('gives null for a process that is gone', () => {
    expect(cpuSecondsOf(2 ** 22 + 12345)).toBeNull()
    expect(cpuSecondsOf(process.pid)).toBeGreaterThan(0)
  })
})

/**
 * Virtual time: a min-heap of events ordered by (time, insertion order), so two events at
 * the same instant always run in the order they were scheduled. That order, and one seeded
 * PRNG, is what makes a run replayable from its seed.
 */
export class EventQueue {
  private times: number[] = []
  private seqs: number[] = []
  private fns: Array<() => void> = []
  private nextSeq = 0
  now = 0

  get size(): number {
    return this.fns.length
  }

  at(time: number, fn: () => void): void {
    this.push(Math.max(time, this.now), this.nextSeq++, fn)
  }

  after(delayMs: number, fn: () => void): void {
    this.at(this.now + delayMs, fn)
  }

  /** Runs the next event; false when none is left or the next one is past `until`. */
  runNext(until: number): boolean {
    if (this.fns.length === 0 || this.times[0]! > until) return false
    const time = this.times[0]!
    const fn = this.pop()
    this.now = time
    fn()
    return true
  }

  private less(i: number, j: number): boolean {
    const ti = this.times[i]!, tj = this.times[j]!
    return ti < tj || (ti === tj && this.seqs[i]! < this.seqs[j]!)
  }

  private swap(i: number, j: number): void {
    const t = this.times[i]!; this.times[i] = this.times[j]!; this.times[j] = t
    const s = this.seqs[i]!; this.seqs[i] = this.seqs[j]!; this.seqs[j] = s
    const f = this.fns[i]!; this.fns[i] = this.fns[j]!; this.fns[j] = f
  }

  private push(time: number, seq: number, fn: () => void): void {
    this.times.push(time)
    this.seqs.push(seq)
    this.fns.push(fn)
    let i = this.fns.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      this.swap(i, parent)
      i = parent
    }
  }

  private pop(): () => void {
    const top = this.fns[0]!
    const last = this.fns.length - 1
    this.swap(0, last)
    this.times.pop()
    this.seqs.pop()
    this.fns.pop()
    let i = 0
    for (;;) {
      const l = 2 * i + 1, r = l + 1
      let m = i
      if (l < last && this.less(l, m)) m = l
      if (r < last && this.less(r, m)) m = r
      if (m === i) break
      this.swap(i, m)
      i = m
    }
    return top
  }
}

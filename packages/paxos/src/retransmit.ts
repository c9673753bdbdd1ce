/**
 * How long to wait for an answer before sending a message again, learned from the answers:
 * a smoothed round trip plus twice its variation (RFC 6298's estimator, in ticks, with a
 * tighter margin: a needless copy of an Accept costs one idempotent accept, a late one holds
 * back every slot above it). A lost message then costs about one round trip plus a tick, not
 * a heartbeat interval or more. Only answers to messages sent once are measured (Karn's rule:
 * the answer to a message sent twice could be to either copy).
 *
 * Ticks are coarse. Where a round trip is far shorter than a tick (kv on one machine: a few
 * ms against 50 ms), answers come back in the tick their message left in and measure 0; the
 * message is then sent again at the first tick after the one it left in, unless answered.
 * That copy is needless only when the message left less than a round trip before the tick.
 */
export class RetransmitTimer {
  private srttTicks: number | null = null
  private rttVarTicks = 0

  constructor(
    /** The wait before any answer was measured. */
    private readonly initialTicks: number,
    /** The longest wait, however slow the answers. */
    private readonly maxTicks: number,
  ) {}

  /** A message sent `ticks` ago (once) was answered. */
  sample(ticks: number): void {
    if (this.srttTicks === null) {
      this.srttTicks = ticks
      this.rttVarTicks = ticks / 2
      return
    }
    this.rttVarTicks = 0.75 * this.rttVarTicks + 0.25 * Math.abs(this.srttTicks - ticks)
    this.srttTicks = 0.875 * this.srttTicks + 0.125 * ticks
  }

  /** Ticks after which an unanswered message is sent again (at least 1: the next tick). */
  get timeoutTicks(): number {
    if (this.srttTicks === null) return this.initialTicks
    const estimate = Math.round(this.srttTicks + 2 * this.rttVarTicks) + 1
    return Math.min(this.maxTicks, Math.max(1, estimate))
  }

  /**
   * The `copies`th copy, sent at tick `sentTick`, is unanswered at tick `now`: time for
   * another? Each copy waits twice as long as the one before (up to the longest wait), so a
   * replica that is down or cut off is not flooded.
   */
  expired(sentTick: number, now: number, copies: number): boolean {
    const wait = Math.min(this.maxTicks, this.timeoutTicks * 2 ** Math.min(copies - 1, 8))
    return now - sentTick >= wait
  }
}

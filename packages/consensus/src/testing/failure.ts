import type { NodeId } from '../types.js'

/** The property a conformance failure broke. */
export type Property =
  | 'election safety'
  | 'log matching'
  | 'strict log matching'
  | 'leader completeness'
  | 'state machine safety'
  | 'durability'
  | 'liveness'
  | 'invariant'
  | 'scenario'

/** Where a failure happened and how to get there again. */
export interface FailureContext {
  readonly seed: number
  readonly tick: number
  /** The scenario (or test) that ran, e.g. "raft: random faults". */
  readonly label: string
  /** A command or call that replays this run exactly. */
  readonly replay: string
  /** The last events before the failure, oldest first. */
  readonly trace: readonly string[]
  /** One line per node: what it looked like when the run failed. */
  readonly nodes?: readonly string[]
}

/**
 * A broken conformance property. Its message names the property, seed, tick and nodes, and
 * says how to replay the run; the fields carry the same for tools (the simulator CLI).
 */
export class ConformanceError extends Error {
  readonly code = 'CONFORMANCE'
  readonly seed: number
  readonly tick: number

  constructor(
    readonly property: Property,
    readonly nodes: readonly NodeId[],
    readonly detail: string,
    readonly context: FailureContext,
    options?: { cause?: unknown },
  ) {
    super(formatFailure(property, nodes, detail, context), options)
    this.name = 'ConformanceError'
    this.seed = context.seed
    this.tick = context.tick
  }
}

function formatFailure(property: Property, nodes: readonly NodeId[], detail: string, ctx: FailureContext): string {
  const lines = [
    `[${property}] ${detail}`,
    `  scenario: ${ctx.label}`,
    `  seed: ${ctx.seed}  tick: ${ctx.tick}  nodes: ${nodes.length > 0 ? nodes.join(', ') : '-'}`,
    `  replay: ${ctx.replay}`,
  ]
  if (ctx.nodes !== undefined && ctx.nodes.length > 0) lines.push(`  nodes at failure:`, ...ctx.nodes.map((n) => `    ${n}`))
  if (ctx.trace.length > 0) lines.push(`  last events (oldest first):`, ...ctx.trace.map((t) => `    ${t}`))
  return lines.join('\n')
}

/** A run broke a property the simulator checks (safety, durability, liveness, a livelock). */
export class SimulationError extends Error {
  readonly code = 'SIMULATION'
}

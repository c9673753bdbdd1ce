/**
 * The replicas of one group and what a caller believes about them: which one leads, and
 * which replica id lives at which address. Leader hints name replica ids; this is where they
 * become addresses. Generic over the address: `@kv/client` addresses replicas by endpoint,
 * the simulator's clients by replica id; both decide with this same code.
 */
export class ReplicaGroup<A> {
  readonly id: string
  readonly #addresses: A[]
  readonly #key: (a: A) => string
  readonly #byId = new Map<string, A>()
  #leader: A | null = null
  /** Where a round starts when no leader is known; moves past replicas that fail. */
  #cursor = 0

  constructor(id: string, replicas: ReadonlyArray<{ readonly address: A; readonly id?: string }>, key: (a: A) => string) {
    if (replicas.length === 0) throw new RangeError(`group ${id} has no replicas`)
    this.id = id
    this.#key = key
    this.#addresses = replicas.map((r) => r.address)
    for (const r of replicas) if (r.id !== undefined) this.#byId.set(r.id, r.address)
  }

  /** The group's replicas: those it was made with, then those it learned of (`add`). */
  get addresses(): readonly A[] {
    return this.#addresses
  }

  /**
   * A replica the caller was told of (a NOT_LEADER answer naming a leader at an address): a
   * member added to the group after the caller's config or map was written.
   */
  add(a: A, replicaId: string): void {
    if (!this.has(a)) this.#addresses.push(a)
    if (replicaId !== '') this.#byId.set(replicaId, this.#addresses[this.#indexOf(a)]!)
  }

  get leader(): A | null {
    return this.#leader
  }

  key(a: A): string {
    return this.#key(a)
  }

  has(a: A): boolean {
    return this.#indexOf(a) >= 0
  }

  /** The replica at `a` says it is `replicaId`. */
  learn(a: A, replicaId: string): void {
    const i = this.#indexOf(a)
    if (i >= 0 && replicaId !== '') this.#byId.set(replicaId, this.addresses[i]!)
  }

  addressOf(replicaId: string): A | null {
    return this.#byId.get(replicaId) ?? null
  }

  /** The replica at `a` answered as leader (or a replica named it leader). */
  believeLeader(a: A): void {
    const i = this.#indexOf(a)
    if (i >= 0) this.#leader = this.addresses[i]!
  }

  /** The replica at `a` failed or is not the leader: stop starting rounds there. */
  doubt(a: A): void {
    const i = this.#indexOf(a)
    if (i < 0) return
    if (this.#leader !== null && this.#key(this.#leader) === this.#key(a)) this.#leader = null
    if (i === this.#cursor) this.#cursor = (i + 1) % this.addresses.length
  }

  /** The order of one round: the believed leader first, then the others in turn. */
  roundOrder(): A[] {
    const n = this.addresses.length
    const start = this.#leader === null ? this.#cursor : this.#indexOf(this.#leader)
    return Array.from({ length: n }, (_, k) => this.addresses[(start + k) % n]!)
  }

  #indexOf(a: A): number {
    const key = this.#key(a)
    return this.addresses.findIndex((x) => this.#key(x) === key)
  }
}

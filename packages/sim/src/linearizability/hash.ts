/**
 * Zobrist hashing: a set's hash is the XOR of its members' hashes, so adding or removing
 * a member updates it in O(1). The search keeps two such hashes, of the linearized ops
 * and of the model state's (key, value) cells.
 */

/** A 32-bit finalizer (murmur3's fmix32): nearby inputs give unrelated outputs. */
export function mix32(input: number): number {
  let h = input | 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) | 0
}

/** The hash of one linearized op, by its index in the partition. */
export function opHash(op: number): number {
  return mix32(Math.imul(op + 1, 0x9e3779b1))
}

/** The hash of one cell of the model state: key index `key` holds value id `value`. */
export function cellHash(key: number, value: number): number {
  return mix32(Math.imul(key + 1, 0x27d4eb2f) ^ mix32(value + 2))
}

/** The hash of a configuration: which ops are linearized, and the state they produced. */
export function configHash(linearizedHash: number, stateHash: number): number {
  return mix32(linearizedHash ^ Math.imul(stateHash, 0x165667b1))
}

/** The hash of an append pending (not yet observed) on its key, by the append's op index. */
export function pendingHash(op: number): number {
  return mix32(Math.imul(op + 1, 0x2545f491) ^ 0x5bd1e995)
}

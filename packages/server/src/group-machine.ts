import { initialShardMap, parseClientRequest, parseControllerRequest, type ClusterSpec, type ControllerOp, type KvOp, type MemberRequest, type StatusRequest } from '@kv/protocol'
import { ControllerMachine } from './controller/controller-machine.js'
import { KvStateMachine, type Sharding } from './kv/kv-machine.js'
import type { MigrationEvent } from './kv/shards.js'
import { defaultReplicaLimits, type ReplicaLimits } from './limits.js'
import type { SessionRequest } from './replica.js'

/** The machines a group runs: the controller's shard map, or a shard group's keys. */
export type GroupMachine = KvStateMachine | ControllerMachine

export type GroupKind = 'controller' | 'kv'

export function groupKind(spec: ClusterSpec, groupId: string): GroupKind {
  return spec.controller?.id === groupId ? 'controller' : 'kv'
}

export interface GroupMachineOptions {
  readonly limits?: Partial<ReplicaLimits>
  /** Record changes for a durable mirror (the node's LMDB). */
  readonly trackChanges?: boolean
  readonly onMigrationStep?: (event: MigrationEvent) => void
}

/**
 * The machine of group `groupId` of a cluster spec — the one place that decides it, for the
 * node and the simulator alike. A shard group learns its maps from the controller when there
 * is one; without one, a spec of several groups is a fixed map, and one group serves every key.
 */
export function createGroupMachine(spec: ClusterSpec, groupId: string, options: GroupMachineOptions = {}): GroupMachine {
  const limits = { ...defaultReplicaLimits, ...options.limits }
  const trackChanges = options.trackChanges === true
  if (groupKind(spec, groupId) === 'controller') return new ControllerMachine({ ...limits, trackChanges, initialMap: initialShardMap(spec) })
  const controller = spec.controller
  const sharding: Sharding | undefined =
    controller !== undefined
      ? { kind: 'controller', groupId, controller }
      : spec.groups.length > 1
        ? { kind: 'fixed', groupId, map: initialShardMap(spec) }
        : undefined
  return new KvStateMachine({
    ...limits,
    trackChanges,
    ...(sharding === undefined ? {} : { sharding }),
    ...(options.onMigrationStep === undefined ? {} : { onMigrationStep: options.onMigrationStep }),
  })
}

export type GroupRequestParse =
  | { readonly ok: true; readonly request: SessionRequest<KvOp | ControllerOp> | StatusRequest | MemberRequest }
  | { readonly ok: false; readonly reason: string }

/** The gateway for client requests to a group of `kind`. */
export function parseGroupRequest(kind: GroupKind, msg: unknown): GroupRequestParse {
  if (kind === 'kv') return parseClientRequest(msg)
  const type = typeof msg === 'object' && msg !== null ? (msg as { type?: unknown }).type : undefined
  if (type === 'status' || type === 'member') return parseClientRequest(msg)
  return parseControllerRequest(msg)
}

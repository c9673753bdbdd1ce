/**
 * Scratch worktrees: a detached checkout of one commit, with the dependencies of the
 * source tree borrowed instead of installed.
 *
 * pnpm's layout makes that cheap: the root `node_modules` (the virtual store `.pnpm` and the
 * hoisted tools) is shared through a symlink, and each package's `node_modules` is COPIED.
 * It holds only relative symlinks (`@kv/raft -> ../../../raft`, `commander ->
 * ../../../node_modules/.pnpm/...`), so in the copy the workspace links resolve to the
 * scratch tree's own, mutated, packages. A symlinked package `node_modules` would resolve
 * them to the source tree's unmutated code instead; `verifyIsolation` refuses that.
 */
import { execFile } from 'node:child_process'
import { cp, lstat, mkdtemp, readdir, readlink, realpath, rm, symlink, unlink } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', cwd, ...args], { maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

export interface Scratch {
  readonly dir: string
  readonly commit: string
}

/** Scratch trees still on disk, removed on SIGINT/SIGTERM. */
const live = new Map<string, string>()

export function liveScratches(): ReadonlyMap<string, string> {
  return live
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p)
    return true
  } catch {
    return false
  }
}

/** `<top>/<pkg>/node_modules` of the source tree (packages/*, apps/*), relative to `root`. */
async function packageModuleDirs(root: string): Promise<string[]> {
  const found: string[] = []
  for (const top of await readdir(root, { withFileTypes: true })) {
    if (!top.isDirectory() || top.name.startsWith('.') || top.name === 'node_modules') continue
    for (const pkg of await readdir(path.join(root, top.name), { withFileTypes: true })) {
      const rel = path.join(top.name, pkg.name, 'node_modules')
      if (pkg.isDirectory() && (await exists(path.join(root, rel)))) found.push(rel)
    }
  }
  return found
}

/** A detached worktree of `commit` in a fresh temporary directory, ready to run tests. */
export async function createScratch(root: string, commit: string, label: string): Promise<Scratch> {
  if (!(await exists(path.join(root, 'node_modules')))) {
    throw new Error(`${root}/node_modules is missing: run pnpm install --frozen-lockfile first`)
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), `kv-mutate-${label.replace(/[^a-z0-9-]/gi, '_').slice(0, 40)}-`))
  live.set(dir, root)
  await git(root, 'worktree', 'add', '--detach', '--quiet', dir, commit)
  await symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  for (const rel of await packageModuleDirs(root)) {
    if (!(await exists(path.join(dir, path.dirname(rel))))) continue // a package not in this commit
    await cp(path.join(root, rel), path.join(dir, rel), { recursive: true, verbatimSymlinks: true })
  }
  await verifyIsolation(root, dir)
  return { dir, commit }
}

/**
 * Every symlink in the scratch tree's package `node_modules` must resolve into the scratch
 * tree or into the shared store, never to the source tree's own packages.
 */
export async function verifyIsolation(root: string, dir: string): Promise<void> {
  const realRoot = await realpath(root)
  const realStore = await realpath(path.join(root, 'node_modules'))
  const realDir = await realpath(dir)
  for (const rel of await packageModuleDirs(dir)) {
    for (const link of await linksIn(path.join(dir, rel))) {
      let target: string
      try {
        target = await realpath(link)
      } catch {
        continue // a dangling link (an optional dependency not installed) is no leak
      }
      const inScratch = target.startsWith(realDir + path.sep)
      const inStore = target.startsWith(realStore + path.sep)
      if (!inScratch && !inStore && target.startsWith(realRoot + path.sep)) {
        throw new Error(`scratch tree ${dir}: ${path.relative(dir, link)} -> ${await readlink(link)} resolves to the source tree (${target})`)
      }
    }
  }
}

/** Symlinks directly in a node_modules folder and in its @scope folders. */
async function linksIn(modules: string): Promise<string[]> {
  const links: string[] = []
  for (const e of await readdir(modules, { withFileTypes: true })) {
    const p = path.join(modules, e.name)
    if (e.isSymbolicLink()) links.push(p)
    else if (e.isDirectory() && e.name.startsWith('@')) {
      for (const s of await readdir(p, { withFileTypes: true })) if (s.isSymbolicLink()) links.push(path.join(p, s.name))
    }
  }
  return links
}

/**
 * Removes a scratch tree. The node_modules symlink goes first, by unlink, so that nothing
 * can ever delete through it into the shared store.
 */
export async function removeScratch(dir: string): Promise<void> {
  const root = live.get(dir)
  const link = path.join(dir, 'node_modules')
  if (await exists(link)) {
    const st = await lstat(link)
    if (st.isSymbolicLink()) await unlink(link)
  }
  if (root !== undefined) {
    try {
      await git(root, 'worktree', 'remove', '--force', dir)
    } catch {
      // Removed below; prune drops git's record of it.
    }
  }
  await rm(dir, { recursive: true, force: true })
  if (root !== undefined) await git(root, 'worktree', 'prune').catch(() => '')
  live.delete(dir)
}

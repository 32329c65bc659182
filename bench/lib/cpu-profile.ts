/**
 * Where a process's main thread spent its time, from the `.cpuprofile` files `node --cpu-prof`
 * writes: self time by package (node_modules/<name>, ipfs-npm's own bundle, Node's internals,
 * GC, idle = waiting for I/O) and the hottest functions. Used to explain a missed target.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileSummary {
  /** Profiled wall time of the main thread, ms. */
  totalMs: number
  /** Self time by package, largest first, ms. */
  byPackage: Array<[string, number]>
  /** Self time by function (`name package:line`), largest first, ms. */
  byFunction: Array<[string, number]>
}

/** The package a script URL belongs to. */
function packageOf (url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(url)
  if (nm !== null) return nm[1]
  if (url.startsWith('node:')) return '(node internals)'
  if (/\/dist\/[^/]+\.js$/.test(url)) return '(ipfs-npm bundle)'
  if (/\/src\/.*\.ts$/.test(url)) return '(ipfs-npm src)'
  return url.replace(/^file:\/\//, '')
}

const top = (m: Map<string, number>, n: number): Array<[string, number]> => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)

/** Adds up every `.cpuprofile` in `dir` (a process and its node children). */
export async function summarizeProfiles (dir: string, n = 10): Promise<ProfileSummary> {
  const byPackage = new Map<string, number>()
  const byFunction = new Map<string, number>()
  let totalMs = 0
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
    totalMs = Math.max(totalMs, (profile.endTime - profile.startTime) / 1000)
    profile.samples.forEach((id, i) => {
      const node = nodes.get(id)
      if (node === undefined) return
      const ms = (profile.timeDeltas[i] ?? 0) / 1000
      const { functionName, url, lineNumber } = node.callFrame
      const pkg = packageOf(url, functionName)
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms)
      const fn = `${functionName || '(anonymous)'} ${pkg}${url === '' ? '' : `:${lineNumber + 1}`}`
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms)
    })
  }
  return { totalMs, byPackage: top(byPackage, n), byFunction: top(byFunction, n) }
}

/** A summary as markdown lines. */
export function renderProfile (title: string, s: ProfileSummary): string[] {
  const fmt = (rows: Array<[string, number]>): string => rows.map(([k, ms]) => `${k} ${ms.toFixed(0)}`).join('; ')
  return [
    `- **${title}** (main thread ${s.totalMs.toFixed(0)} ms; self time in ms)`,
    `  - by package: ${fmt(s.byPackage)}`,
    `  - hottest functions: ${fmt(s.byFunction)}`,
  ]
}

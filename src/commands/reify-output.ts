/**
 * What npm prints after a reify (a port of npm's `reify-output.js` for install and ci):
 * `added 79 packages, and audited 80 packages in 3s`, funding, the audit summary — plus our line
 * saying where the tarballs came from.
 */
import { createRequire } from 'node:module'
import type { MetadataCounts } from '../metadata/packument-source.ts'
import type { Reporter } from '../reporter.ts'
import type { OriginCounts } from '../types.ts'
import type { ArboristLike, DiffNode } from './arborist-types.ts'

const require = createRequire(import.meta.url)

interface Summary { added: number, removed: number, changed: number, audited: number, funding: number }

function countDiff (arb: ArboristLike, reporter: Reporter, showDiff: boolean): Pick<Summary, 'added' | 'removed' | 'changed'> {
  const counts = { added: 0, removed: 0, changed: 0 }
  const { depth } = require('treeverse') as { depth(init: { tree: DiffNode, visit(d: DiffNode): void, getChildren(d: DiffNode): DiffNode[] }): void }
  if (arb.diff === undefined || arb.diff === null) return counts
  depth({
    tree: arb.diff,
    getChildren: (d) => d.children,
    visit: (d) => {
      if (d.action === 'REMOVE') {
        if (showDiff) reporter.output(`remove ${d.actual?.name} ${d.actual?.package.version}`)
        counts.removed++
      } else if (d.action === 'ADD' && d.ideal !== undefined) {
        if (showDiff) reporter.output(`add ${d.ideal.name} ${d.ideal.package.version}`)
        if (arb.actualTree?.inventory.has(d.ideal as never) || (d.ideal.isInStore && !d.ideal.isLink)) counts.added++
      } else if (d.action === 'CHANGE') {
        if (showDiff) reporter.output(`change ${d.actual?.name} ${d.actual?.package.version} => ${d.ideal?.package.version}`)
        counts.changed++
      }
    },
  })
  return counts
}

/** A duration as npm prints it (the `ms` package's short form: `324ms`, `3s`, `2m`). */
export function elapsed (ms: number): string {
  const units: Array<[number, string]> = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'm'], [1000, 's']]
  for (const [size, unit] of units) {
    if (Math.abs(ms) >= size) return `${Math.round(ms / size)}${unit}`
  }
  return `${ms}ms`
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** npm's `added …, removed …, changed …, and audited … in Xs` line. */
export function changedMessage ({ added, removed, changed, audited }: Summary, elapsed: string): string {
  const msg: string[] = []
  if (added === 0 && removed === 0 && changed === 0) {
    msg.push('up to date')
    if (audited) msg.push(', ')
  } else {
    if (added) msg.push(`added ${plural(added, 'package')}`)
    if (removed) {
      if (added) msg.push(', ')
      if (added && !audited && !changed) msg.push('and ')
      msg.push(`removed ${plural(removed, 'package')}`)
    }
    if (changed) {
      if (added || removed) msg.push(', ')
      if (!audited && (added || removed)) msg.push('and ')
      msg.push(`changed ${plural(changed, 'package')}`)
    }
    if (audited) msg.push(', and ')
  }
  if (audited) msg.push(`audited ${plural(audited, 'package')}`)
  msg.push(` in ${elapsed}`)
  return msg.join('')
}

export interface ReifyOutputInit {
  arb: ArboristLike
  reporter: Reporter
  flat: Record<string, unknown>
  origins: OriginCounts
  /** The peers that sent tarballs, named in the origins line. */
  servedBy?: string[]
  /** Where packuments came from; printed only when some came from elsewhere than the registry. */
  metadata?: MetadataCounts
  started: number
  showDiff: boolean
}

/** `metadata: 12 from peers (as of 2026-11-28), 3 from registry`, or undefined when all came from the registry. */
export function metadataLine (counts: MetadataCounts): string | undefined {
  if (counts.peers + counts.index + counts.cache === 0) return undefined
  const parts = [
    counts.peers > 0 ? `${counts.peers} from peers${counts.peersAsOf === undefined ? '' : ` (as of ${new Date(counts.peersAsOf).toISOString().slice(0, 10)})`}` : '',
    counts.index > 0 ? `${counts.index} from indexes` : '',
    counts.cache > 0 ? `${counts.cache} from cache` : '',
    `${counts.registry} from registry`,
  ]
  return `metadata: ${parts.filter(Boolean).join(', ')}`
}

/** Prints npm's reify summary, then the origins line. Sets the exit code npm's audit would. */
export function reifyOutput ({ arb, reporter, flat, origins, servedBy, metadata, started, showDiff }: ReifyOutputInit): void {
  if (flat.silent) return
  const report = arb.auditReport as { error?: unknown, toJSON(): unknown } | null | undefined
  const auditOk = report !== undefined && report !== null && !report.error
  const summary: Summary = {
    ...countDiff(arb, reporter, showDiff),
    audited: auditOk ? arb.actualTree?.inventory.size ?? 0 : 0,
    funding: 0,
  }
  if (flat.fund && arb.actualTree) {
    const { readTree } = require('libnpmfund') as { readTree(tree: unknown, opts: { countOnly: boolean }): { length: number } }
    summary.funding = readTree(arb.actualTree, { countOnly: true }).length
  }
  reporter.output()
  reporter.output(changedMessage(summary, elapsed(Date.now() - started)))
  reporter.origins(origins, servedBy)
  const line = metadata === undefined ? undefined : metadataLine(metadata)
  if (line !== undefined) reporter.output(line)
  if (summary.funding) {
    reporter.output()
    reporter.output(`${summary.funding} ${summary.funding === 1 ? 'package is' : 'packages are'} looking for funding`)
    reporter.output('  run `npm fund` for details')
  }
  if (auditOk) {
    const auditReport = require('npm-audit-report') as (report: unknown, opts: Record<string, unknown>) => { report?: string }
    const res = auditReport(report, { reporter: 'install', ...flat, auditLevel: flat.auditLevel ?? 'none', chalk: noColor })
    if (res.report) reporter.output(`\n${res.report}`)
  }
}

/** A chalk stand-in that colours nothing (npm's `noColorChalk` when output is not a TTY). */
const noColor: unknown = new Proxy(function (s: string) { return s }, {
  get: (_target, prop) => prop === 'level' ? 0 : noColor,
  apply: (_target, _this, args: unknown[]) => String(args[0] ?? ''),
})

/**
 * The bench's results as one markdown document: medians and ratios to `npm ci`, the targets
 * with their measured values, and where the numbers come from (machine, versions, commit).
 */
import { pairedRatios, summarize } from './stats.ts'
import type { RunResult } from './measure.ts'

/** All runs of one scenario on one project. */
export interface ScenarioResult {
  project: string
  id: string
  label: string
  /** The scenario that `× npm ci` divides by (same project, same registry). */
  baseline: string
  runs: RunResult[]
  /** Why it has no (or fewer) runs. */
  error?: string
}

export interface TargetCheck {
  name: string
  project: string
  measured: string
  limit: string
  met: boolean | undefined
  detail?: string
}

export interface ReportInit {
  title: string
  facts: Array<[string, string]>
  results: ScenarioResult[]
  targets: TargetCheck[]
  /** Markdown lines summarizing CPU profiles of missed targets. */
  profiles: string[]
  /** More sections, after the targets: title and markdown lines. */
  sections?: Array<[string, string[]]>
  notes: string[]
}

const sec = (ms: number): string => (ms / 1000).toFixed(2)
const okRuns = (r: ScenarioResult): RunResult[] => r.runs.filter((x) => x.code === 0)
/** A measure of the successful runs, where time(1) gave it. */
const measured = (r: ScenarioResult | undefined, key: 'rssKb' | 'cpuMs' | 'userMs' | 'systemMs'): number[] =>
  r === undefined ? [] : okRuns(r).flatMap((x) => x[key] === undefined ? [] : [x[key]])

/** The successful runs' wall times of `id` on `project`, in round order. */
export function times (results: readonly ScenarioResult[], project: string, id: string): number[] {
  const r = results.find((x) => x.project === project && x.id === id)
  return r === undefined ? [] : okRuns(r).map((x) => x.ms)
}

/** Median peak RSS (MiB) of `id` on `project`. */
export function medianRss (results: readonly ScenarioResult[], project: string, id: string): number | undefined {
  const r = results.find((x) => x.project === project && x.id === id)
  const rss = measured(r, 'rssKb')
  return rss.length === 0 ? undefined : summarize(rss).median / 1024
}

/**
 * `a`'s median CPU time (user + system, whole process tree) over `b`'s: on a machine others
 * load, CPU time moves far less than wall time does.
 */
export function cpuRatio (results: readonly ScenarioResult[], project: string, a: string, b: string): number | undefined {
  const cpu = (id: string): number[] => measured(results.find((x) => x.project === project && x.id === id), 'cpuMs')
  const [ca, cb] = [cpu(a), cpu(b)]
  return ca.length === 0 || cb.length === 0 ? undefined : summarize(ca).median / summarize(cb).median
}

/** `a`'s median over `b`'s, with the per-round ratios; undefined when either has no run. */
export function ratio (results: readonly ScenarioResult[], project: string, a: string, b: string): { value: number, rounds: number[] } | undefined {
  const ta = times(results, project, a)
  const tb = times(results, project, b)
  if (ta.length === 0 || tb.length === 0) return undefined
  return { value: summarize(ta).median / summarize(tb).median, rounds: pairedRatios(ta, tb) }
}

export function renderReport (init: ReportInit): string {
  const lines = [`# ${init.title}`, '']
  for (const [k, v] of init.facts) lines.push(`- **${k}:** ${v}`)
  lines.push('', '## Wall time (s) and peak RSS', '',
    '`× npm ci` = this median / the median of `npm ci` cold on the same project and registry. Runs alternate (A B C … A B C …).', '',
    '| project | scenario | ok runs | min | median | max | × npm ci | peak RSS MiB (median) | CPU s (median) | user / sys s (medians) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of init.results) {
    const t = okRuns(r).map((x) => x.ms)
    if (t.length === 0) {
      lines.push(`| ${r.project} | ${r.label} | 0/${r.runs.length} | – | – | – | – | – | – | – |`)
      continue
    }
    const s = summarize(t)
    const x = ratio(init.results, r.project, r.id, r.baseline)
    const rss = medianRss(init.results, r.project, r.id)
    const [cpu, user, system] = [measured(r, 'cpuMs'), measured(r, 'userMs'), measured(r, 'systemMs')]
    const split = user.length === 0 || system.length === 0 ? '–' : `${sec(summarize(user).median)} / ${sec(summarize(system).median)}`
    lines.push(`| ${r.project} | ${r.label} | ${t.length}/${r.runs.length} | ${sec(s.min)} | ${sec(s.median)} | ${sec(s.max)} | ${x === undefined ? '–' : x.value.toFixed(2)} | ${rss === undefined ? '–' : rss.toFixed(0)} | ${cpu.length === 0 ? '–' : sec(summarize(cpu).median)} | ${split} |`)
  }
  lines.push('', '## Targets', '', '| target | project | measured | limit | met | per-round / detail |', '| --- | --- | ---: | ---: | :---: | --- |')
  for (const t of init.targets) {
    const met = t.met === undefined ? 'n/a' : t.met ? 'yes' : '**no**'
    lines.push(`| ${t.name} | ${t.project} | ${t.measured} | ${t.limit} | ${met} | ${t.detail ?? ''} |`)
  }
  for (const [title, body] of init.sections ?? []) lines.push('', `## ${title}`, '', ...body)
  if (init.profiles.length > 0) {
    lines.push('', '## Profiles of missed targets', '',
      'One extra run of each side under `node --cpu-prof` (main thread, self time; `(idle)` is waiting for I/O or children, `(garbage collector)` is GC).', '', ...init.profiles)
  }
  const failures = init.results.filter((r) => r.error !== undefined || r.runs.some((x) => x.code !== 0))
  if (failures.length > 0 || init.notes.length > 0) lines.push('', '## Notes', '')
  for (const r of failures) {
    const bad = r.runs.find((x) => x.code !== 0)
    const exit = bad?.code === 137 ? 'killed after the per-run time limit (exit 137)' : `exit ${bad?.code}`
    const why = r.error ?? `${exit}: ${bad?.tail.split('\n').slice(-3).join(' / ') || 'no output'}`
    lines.push(`- ${r.project} / ${r.label}: ${why.replace(/\s+/g, ' ').slice(0, 400)}`)
  }
  for (const n of init.notes) lines.push(`- ${n}`)
  return `${lines.join('\n')}\n`
}

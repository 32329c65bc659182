/**
 * One timed run: the command under `/usr/bin/time -v` for its peak RSS (the largest of the
 * process tree's waited-for processes), wall time measured around it, all under `timeout`,
 * which kills the whole process group when the limit passes (exit 137).
 */
import { readFile, rm } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { runCommand } from '../../test/helpers/run-command.ts'

export interface Invocation {
  command: string
  args: string[]
  cwd: string
  env: Record<string, string>
}

export interface RunResult {
  ms: number
  /** Peak resident set size in KiB, or undefined when time(1) could not tell. */
  rssKb: number | undefined
  /** User + system CPU time of the whole process tree in ms (time(1)), or undefined. */
  cpuMs?: number
  /** The user and the system (kernel) part of cpuMs: this VM's kernel time swings on its own. */
  userMs?: number
  systemMs?: number
  /** The 1-minute load average as the run started. */
  load?: number
  code: number
  /** The last lines of output, kept for failures. */
  tail: string
}

/** Runs `inv` once under time(1); `timeFile` is scratch space. */
export async function measure (inv: Invocation, timeFile: string, timeoutMs = 600_000): Promise<RunResult> {
  await rm(timeFile, { force: true })
  const load = loadavg()[0]
  const args = ['-s', 'KILL', `${Math.ceil(timeoutMs / 1000)}`, '/usr/bin/time', '-v', '-o', timeFile, inv.command, ...inv.args]
  const res = await runCommand('timeout', args, { cwd: inv.cwd, env: inv.env, timeoutMs: timeoutMs + 10_000 })
  const report = await readFile(timeFile, 'utf8').catch(() => '')
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report)
  const tail = `${res.stdout}\n${res.stderr}`.trim().split('\n').slice(-8).join('\n')
  const user = /User time \(seconds\): ([\d.]+)/.exec(report)
  const system = /System time \(seconds\): ([\d.]+)/.exec(report)
  const [userMs, systemMs] = user === null || system === null ? [] : [Number(user[1]) * 1000, Number(system[1]) * 1000]
  const cpuMs = userMs === undefined || systemMs === undefined ? undefined : userMs + systemMs
  return { ms: res.ms, rssKb: rss === null ? undefined : Number(rss[1]), cpuMs, userMs, systemMs, load, code: res.code, tail }
}

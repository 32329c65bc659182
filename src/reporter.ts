/**
 * The reporter: npm's terminal output. It shows what npm's libraries log through proc-log
 * (`npm warn …` on stderr, filtered by `loglevel`), their output on stdout, the summary npm prints
 * after a reify, our one line saying where the tarballs came from, and errors as npm prints them.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { formatWithOptions } from 'node:util'
import { reportError } from './errors.ts'
import { createProgress } from './progress.ts'
import { explainEresolve, type Explanation } from './explain-eresolve.ts'
import type { OriginCounts } from './types.ts'

const LEVELS = ['silent', 'error', 'warn', 'notice', 'http', 'info', 'verbose', 'silly'] as const

export interface Reporter {
  /** Prints the `[title, message]` lines of an error as npm does, and returns npm's exit code. */
  error(er: unknown): number
  /** Writes a line to stdout (npm's `output.standard`). */
  output(text?: string): void
  /**
   * Where the tarballs came from: `0 from cache, 74 from peers (2 peers: 12D3…abc, 12D3…def), 0 from registry`,
   * naming the peers that sent them.
   */
  origins(counts: OriginCounts, servedBy?: string[]): void
  /** Stops listening to proc-log. */
  close(): void
}

export interface ReporterInit {
  loglevel: string
  stdout?: Writable
  stderr?: Writable
  /** Where npm keeps its debug logs (`logs-dir`, default `<cache>/_logs`); none: no log file. */
  logsDir?: string
  /** npm's spinner on stderr (see progress.ts: only when npm would draw it); `unicode` picks its frames. */
  progress?: { enabled: boolean, unicode: boolean }
}

/** Formats args like npm's display: every line of the message prefixed with the heading. */
function format (prefix: string[], args: unknown[]): string {
  const text = formatWithOptions({ colors: false }, ...args)
  const head = prefix.filter(Boolean).join(' ')
  return text.split(/\r?\n/).map((line) => `${head}${line ? ' ' : ''}${line}\n`).join('')
}

/**
 * Creates the reporter and starts showing proc-log events.
 *
 * @example
 * const reporter = createReporter({ loglevel: config.get('loglevel') as string })
 * reporter.origins({ cache: 79, peers: 0, registry: 0 })
 */
export function createReporter (init: ReporterInit): Reporter {
  const stdout = init.stdout ?? process.stdout
  const rawStderr = init.stderr ?? process.stderr
  const progress = createProgress({ stream: rawStderr, enabled: init.progress?.enabled === true, unicode: init.progress?.unicode === true })
  // every line goes out with the spinner cleared first and drawn again after, as npm's display does
  const stderr = { write: (text: string): void => progress.write(() => rawStderr.write(text)) }
  const stdoutWrite = (text: string): void => progress.write(() => stdout.write(text))
  const index = Math.max(0, LEVELS.indexOf(init.loglevel as typeof LEVELS[number]))
  const seenNotices = new Set<string>()
  // everything logged, at every level, for the debug log npm leaves behind after a failure
  const journal: string[] = []

  const runId = new Date().toISOString().replace(/[.:]/g, '_')
  /** Writes a file beside npm's debug logs; its path, or undefined when it could not be written. */
  const writeLogFile = (name: string, content: string): string | undefined => {
    if (init.logsDir === undefined) return undefined
    const file = join(init.logsDir, `${runId}-${name}`)
    try {
      mkdirSync(init.logsDir, { recursive: true })
      writeFileSync(file, content)
      return file
    } catch {
      return undefined
    }
  }

  const onLog = (level: string, ...args: unknown[]): void => {
    if (level !== 'timing' && level !== 'pause' && level !== 'resume') {
      journal.push(format([String(journal.length), level, args[0] ? String(args[0]) : ''], args.slice(1)))
    }
    const levelIndex = LEVELS.indexOf(level as typeof LEVELS[number])
    if (levelIndex < 1 || levelIndex > index) return
    if (level === 'notice') {
      const key = JSON.stringify(args)
      if (seenNotices.has(key)) return
      seenNotices.add(key)
    }
    const title = args.shift()
    // npm's display shortens Arborist's peer-override explanation object to readable lines
    const [message, expl] = args
    if (level === 'warn' && title === 'ERESOLVE' && expl !== null && typeof expl === 'object') {
      stderr.write(format(['npm', level, 'ERESOLVE'], [message]))
      stderr.write(format(['npm', level], [explainEresolve(expl as Explanation, 2)]))
      return
    }
    stderr.write(format(['npm', level, title ? String(title) : ''], args))
  }
  const onOutput = (kind: string, ...args: unknown[]): void => {
    if (index === 0) return
    if (kind === 'standard') stdoutWrite(formatWithOptions({ colors: false }, ...args) + '\n')
    else if (kind === 'error') stderr.write(formatWithOptions({ colors: false }, ...args) + '\n')
  }
  process.on('log', onLog)
  process.on('output', onOutput)

  return {
    error (er) {
      progress.off()
      const { exitCode, lines, files } = reportError(er)
      for (const [name, content] of files) {
        const file = writeLogFile(name, content)
        if (file !== undefined) lines.push(['', `\n\nFor a full report see:\n${file}`])
      }
      for (const [title, message] of lines) onLog('error', title, message)
      const log = writeLogFile('debug-0.log', journal.join(''))
      if (log !== undefined) onLog('error', '', `A complete log of this run can be found in: ${log}`)
      return exitCode
    },
    output (text = '') {
      onOutput('standard', text)
    },
    origins (counts, servedBy = []) {
      const short = (peer: string): string => peer.length > 10 ? `${peer.slice(0, 4)}…${peer.slice(-3)}` : peer
      const who = counts.peers > 0 && servedBy.length > 0 ? ` (${servedBy.length} peer${servedBy.length === 1 ? '' : 's'}: ${servedBy.map(short).join(', ')})` : ''
      onOutput('standard', `${counts.cache} from cache, ${counts.peers} from peers${who}, ${counts.registry} from registry`)
    },
    close () {
      progress.off()
      process.off('log', onLog)
      process.off('output', onOutput)
    },
  }
}

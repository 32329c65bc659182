/**
 * npm's error messages (a port of the cases of npm's `lib/utils/error-message.js` that install and
 * ci can meet), so a failure reads and exits exactly as it would under npm.
 */
import { createRequire } from 'node:module'
import { eresolveFix, explainEresolve, type Explanation } from './explain-eresolve.ts'

const require = createRequire(import.meta.url)

/** An error as npm's libraries throw them: a Node.js Error with npm's extra fields. */
export type NpmError = Error & {
  code?: string | number
  errno?: number
  syscall?: string
  file?: string
  path?: string
  dest?: string
  pkgid?: string
  cause?: unknown
  /** The signal that ended the run (Ctrl-C: `SIGINT`). */
  signal?: string
}

/** npm-registry-fetch's HttpError: a failed response's status, headers and (parsed) body. */
export type HttpError = NpmError & {
  statusCode?: number
  headers?: Record<string, string[]>
  body?: unknown
}

/** The fields of an `NpmError` besides its message, as a factory takes them. */
export type NpmErrorFields = Omit<NpmError, 'name' | 'message' | 'stack'>

/**
 * The one way an error is made in ipfs-npm: a Node.js Error with npm's fields (`code` first),
 * which `reportError` prints as npm would print the same failure.
 *
 * @example
 * throw npmError('EINTEGRITY', `Integrity check failed for ${id}`)
 */
export function npmError<F extends object = object> (code: string, message: string, fields?: NpmErrorFields & F): NpmError & F {
  return Object.assign(new Error(message), { ...fields, code }) as NpmError & F
}

/** A one-line usage error (a bad flag or option value): npm's `EUSAGE`, exit code 1. */
export function usageError (message: string): NpmError {
  return npmError('EUSAGE', message)
}

/**
 * The run was ended by a signal: Arborist's own error when one comes during reify (it rolls the
 * tree back first), which npm prints as `npm error process terminated` / `npm error signal SIGINT`.
 */
export function terminatedError (signal: string): NpmError {
  return Object.assign(new Error('process terminated'), { signal })
}

/** What to print: `[title, message]` pairs, each printed as `npm error <title> <message>`. */
export interface ErrorReport {
  exitCode: number
  lines: Array<[string, string]>
  /** Reports npm writes beside its debug log (`[file name, content]`), named at the end of `lines`. */
  files: Array<[string, string]>
}

const NETWORK = new Set(['ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'ERR_SOCKET_TIMEOUT', 'EAI_FAIL'])
const PROXY_HINT = `If you are behind a proxy, please make sure that the 'proxy' config is set properly.  See: 'npm help config'`

function redact (text: string): string {
  const { redactLog } = require('@npmcli/redact') as { redactLog: (s: string) => string }
  return redactLog(text)
}

function messageLines (er: NpmError): { summary: Array<[string, string]>, detail: Array<[string, string]>, files: Array<[string, string]> } {
  const summary: Array<[string, string]> = []
  const detail: Array<[string, string]> = []
  const files: Array<[string, string]> = []
  const message = redact(er.message)
  switch (er.code) {
    case 'ENOLOCK':
      summary.push(['', 'This command requires an existing lockfile.'])
      detail.push(['', 'Try creating one first with: npm i --package-lock-only'])
      detail.push(['', `Original error: ${message}`])
      break
    case 'ECONNREFUSED':
      summary.push(['', String(er)])
      detail.push(['', `\n${PROXY_HINT}`])
      break
    case 'EJSONPARSE':
      summary.push(['JSON.parse', message])
      detail.push(['JSON.parse', 'Failed to parse JSON data.\nNote: package.json must be actual JSON, not just JavaScript.'])
      break
    case 'E404':
      summary.push(['404', message.replace(/^404\s+/, '')])
      if (er.pkgid && er.pkgid !== '-') {
        detail.push(['404', ''])
        detail.push(['404', ` The requested resource '${redact(er.pkgid)}' could not be found or you do not have permission to access it.`])
        detail.push(['404', ''])
        detail.push(['404', 'Note that you can also install from a'])
        detail.push(['404', 'tarball, folder, http url, or git url.'])
      }
      break
    case 'ETARGET':
      summary.push(['notarget', message])
      detail.push(['notarget', `In most cases you or one of your dependencies are requesting a package version that doesn't exist.`])
      break
    case 'ENOSPC':
      summary.push(['nospc', message])
      detail.push(['nospc', 'There appears to be insufficient space on your system to finish.\nClear up some disk space and try again.'])
      break
    case 'ENOENT':
      summary.push(['enoent', message])
      detail.push(['enoent', `This is related to npm not being able to find a file.${er.file ? `\n\nCheck if the file '${er.file}' is present.` : '\n'}`])
      break
    case 'ERESOLVE': {
      const expl = er as unknown as Explanation
      summary.push(['ERESOLVE', message])
      detail.push(['', ''])
      detail.push(['', `${explainEresolve(expl, 4)}\n\n${eresolveFix(expl)}`])
      files.push(['eresolve-report.txt', `# npm resolution error report\n\n${explainEresolve(expl, Infinity)}\n\n${eresolveFix(expl)}`])
      break
    }
    default:
      if (NETWORK.has(String(er.code))) {
        summary.push(['network', message])
        detail.push(['network', `This is a problem related to network connectivity.\nIn most cases you are behind a proxy or have bad network settings.\n\n${PROXY_HINT}`])
        break
      }
      summary.push(['', message])
      if (er.cause instanceof Error) detail.push(['cause', redact(er.cause.message)])
      if (er.signal) detail.push(['signal', er.signal])
  }
  return { summary, detail, files }
}

/** npm's exit code for an error: its errno when numeric (ENOENT → 254), else 1. */
export function exitCodeOf (er: NpmError): number {
  if (typeof er.errno === 'number') return er.errno & 0xff
  if (typeof er.code === 'number') return er.code & 0xff
  return 1
}

/** The lines npm prints for `er` (`npm error code …` first), and the exit code. */
export function reportError (er: unknown): ErrorReport {
  if (!(er instanceof Error)) return { exitCode: 1, lines: [['', String(er)]], files: [] }
  const e = er as NpmError
  e.code ??= /^(?:Error: )?(E[A-Z]+)/.exec(e.message)?.[1]
  const head: Array<[string, string]> = []
  for (const key of ['code', 'syscall', 'file', 'path', 'dest', 'errno'] as const) {
    if (e[key] !== undefined && e[key] !== '') head.push([key, String(e[key])])
  }
  const { summary, detail, files } = messageLines(e)
  return { exitCode: exitCodeOf(e), lines: [...head, ...summary, ...detail], files }
}

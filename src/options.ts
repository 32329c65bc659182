/**
 * Our own options — never npm's: flags, `IPFS_NPM_*` environment variables and `.ipfs-npmrc`
 * files (the project's, then the home directory's). Flags win over the environment, the
 * environment over files. Our flags are taken out of argv so npm never sees (or warns about) them.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { IpfsNpmOptions } from './types.ts'

/** A usage error in our own options: one line, exit code 1, like npm's `EUSAGE`. */
export class OptionsError extends Error {
  code = 'EUSAGE'
}

export const DEFAULT_OPTIONS: Readonly<IpfsNpmOptions> = Object.freeze({
  peers: [],
  listen: [],
  mdns: true,
  bootstrap: [],
  peerTimeout: 2000,
  swarmKey: undefined,
  port: 9595,
})

type Key = keyof IpfsNpmOptions
interface Spec { key: Key, kind: 'list' | 'bool' | 'int' | 'string' }

/** Our option names as written in flags and `.ipfs-npmrc` (env: `IPFS_NPM_` + upper snake case). */
const SPECS: Record<string, Spec> = {
  peer: { key: 'peers', kind: 'list' },
  listen: { key: 'listen', kind: 'list' },
  mdns: { key: 'mdns', kind: 'bool' },
  bootstrap: { key: 'bootstrap', kind: 'list' },
  'peer-timeout': { key: 'peerTimeout', kind: 'int' },
  'swarm-key': { key: 'swarmKey', kind: 'string' },
  port: { key: 'port', kind: 'int' },
}
const ENV_NAMES: Record<string, string> = {
  IPFS_NPM_PEERS: 'peer',
  IPFS_NPM_LISTEN: 'listen',
  IPFS_NPM_MDNS: 'mdns',
  IPFS_NPM_BOOTSTRAP: 'bootstrap',
  IPFS_NPM_PEER_TIMEOUT: 'peer-timeout',
  IPFS_NPM_SWARM_KEY: 'swarm-key',
  IPFS_NPM_PORT: 'port',
}

type Partial = { [K in Key]?: IpfsNpmOptions[K] }

function parseValue (name: string, raw: string, source: string): unknown {
  const spec = SPECS[name]
  switch (spec.kind) {
    case 'list': return raw.split(/[\s,]+/).filter(Boolean)
    case 'bool':
      if (/^(true|1|yes)$/i.test(raw)) return true
      if (/^(false|0|no)$/i.test(raw)) return false
      throw new OptionsError(`${source}: ${name} must be true or false, not ${JSON.stringify(raw)}`)
    case 'int': {
      if (!/^\d+$/.test(raw)) throw new OptionsError(`${source}: ${name} must be a whole number, not ${JSON.stringify(raw)}`)
      const n = Number(raw)
      if (spec.key === 'port' && (n < 1 || n > 65535)) throw new OptionsError(`${source}: port must be 1-65535, not ${n}`)
      return n
    }
    case 'string': return raw
  }
}

function assign (into: Partial, name: string, value: unknown, append: boolean): void {
  const { key, kind } = SPECS[name]
  const record = into as Record<string, unknown>
  if (kind === 'list' && append) record[key] = [...(record[key] as string[] ?? []), ...(value as string[])]
  else record[key] = value
}

/** Reads one `.ipfs-npmrc` (ini-style `key = value` lines, `#`/`;` comments). Absent files count as empty. */
export function readRcFile (file: string): Partial {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new OptionsError(`cannot read ${file}: ${(err as Error).message}`)
  }
  const out: Partial = {}
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return
    const m = /^([\w-]+?)(\[\])?\s*=\s*(.*)$/.exec(trimmed)
    if (!m || !(m[1] in SPECS)) throw new OptionsError(`${file}:${i + 1}: not an ipfs-npm option: ${JSON.stringify(trimmed)}`)
    assign(out, m[1], parseValue(m[1], m[3].replace(/^"(.*)"$/, '$1'), `${file}:${i + 1}`), true)
  })
  return out
}

function fromEnv (env: NodeJS.ProcessEnv): Partial {
  const out: Partial = {}
  for (const [envName, name] of Object.entries(ENV_NAMES)) {
    const raw = env[envName]
    if (raw !== undefined && raw !== '') assign(out, name, parseValue(name, raw, envName), false)
  }
  return out
}

/**
 * Takes our flags out of `argv` (stopping at `--`, whose rest belongs to scripts).
 * `--peer X`, `--peer=X`, `--no-mdns`, `--mdns=false`, `--bootstrap=A,B`…
 */
export function extractFlags (argv: readonly string[]): { flags: Partial, rest: string[] } {
  const flags: Partial = {}
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      rest.push(...argv.slice(i))
      break
    }
    const m = /^--(no-)?([a-z-]+)(?:=(.*))?$/.exec(arg)
    const name = m?.[2]
    if (!m || name === undefined || !(name in SPECS)) {
      rest.push(arg)
      continue
    }
    const { kind } = SPECS[name]
    let raw = m[3]
    if (m[1] !== undefined) {
      if (kind !== 'bool' || raw !== undefined) throw new OptionsError(`--no-${name} takes no value`)
      raw = 'false'
    } else if (raw === undefined) {
      if (kind === 'bool') raw = 'true'
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('-')) raw = argv[++i]
      else throw new OptionsError(`--${name} needs a value`)
    }
    assign(flags, name, parseValue(name, raw, `--${name}`), true)
  }
  return { flags, rest }
}

/** Merges defaults < home `.ipfs-npmrc` < project `.ipfs-npmrc` < env < flags. */
export function resolveOptions (init: { flags: Partial, env: NodeJS.ProcessEnv, home: string, projectDir: string }): IpfsNpmOptions {
  const home = readRcFile(join(init.home, '.ipfs-npmrc'))
  const project = init.projectDir === init.home ? {} : readRcFile(join(init.projectDir, '.ipfs-npmrc'))
  return { ...DEFAULT_OPTIONS, ...home, ...project, ...fromEnv(init.env), ...init.flags }
}

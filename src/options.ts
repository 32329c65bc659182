/**
 * Our own options — never npm's — in one table: each row is a flag (`--<name>`), an `IPFS_NPM_*`
 * environment variable and a `.ipfs-npmrc` key (the project's file, then the home directory's),
 * with its type, default and check. Flags win over the environment, the environment over files.
 * Our flags are taken out of argv so npm never sees (or warns about) them.
 *
 * Adding an option is adding a row: its type in `IpfsNpmOptions` follows from its default.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { usageError } from './errors.ts'
import { readSwarmKey } from './swarm-key.ts'

type OptionType = 'list' | 'boolean' | 'number' | 'string'

export interface OptionDefinition<T> {
  /** The flag (`--<name>`, `--no-<name>` for booleans) and the `.ipfs-npmrc` key. */
  name: string
  /** The environment variable (lists: comma or space separated). */
  env: string
  type: OptionType
  default: T
  /** The value's placeholder in usage texts, e.g. `<multiaddr>`; none for booleans. */
  hint?: string
  /** One line for `--help` and the README. */
  description: string
  /** Throws a one-line error for a value that cannot work; run on every command, cache warm or not. */
  check?: (value: T) => void | Promise<void>
  /** What the flag means given without a value (last, or before another flag): `--index` alone is this cache's own index. */
  bare?: string
}

const option = <T>(definition: OptionDefinition<T>): OptionDefinition<T> => definition

/** Every value of a list must be a CID (or `/ipfs/<CID>`); the parser is loaded only when a list is set. */
async function cids (flag: string, values: string[]): Promise<void> {
  if (values.length === 0) return
  const { CID } = await import('multiformats/cid')
  for (const value of values) {
    try {
      CID.parse(value.replace(/^\/ipfs\//, ''))
    } catch (err) {
      throw usageError(`--${flag}: invalid CID ${JSON.stringify(value)}: ${(err as Error).message}`)
    }
  }
}

/** Every value of a list must be a multiaddr; the parser is loaded only when a list is set. */
async function multiaddrs (flag: string, addresses: string[]): Promise<void> {
  if (addresses.length === 0) return
  const { multiaddr } = await import('@multiformats/multiaddr')
  for (const address of addresses) {
    try {
      multiaddr(address)
    } catch (err) {
      throw usageError(`--${flag}: invalid multiaddr ${JSON.stringify(address)}: ${(err as Error).message}`)
    }
  }
}

/** What `--index` alone stands for: this machine's own index, named by its default key. */
export const OWN_INDEX = 'self'

/** Every index name must be an IPNS key name; the parser is loaded only when one is set. */
async function indexNames (flag: string, names: string[]): Promise<void> {
  if (names.every((name) => name === OWN_INDEX)) return
  const { parseIndexName } = await import('./metadata/index-key.ts')
  for (const name of names) {
    if (name === OWN_INDEX) continue
    try {
      parseIndexName(name)
    } catch (err) {
      throw usageError(`--${flag}: ${(err as Error).message}`)
    }
  }
}

export const OPTIONS = {
  peers: option<string[]>({
    name: 'peer', env: 'IPFS_NPM_PEERS', type: 'list', default: [], hint: '<multiaddr>',
    description: 'Peers to dial (repeatable), e.g. /ip4/10.0.0.5/tcp/4001/p2p/12D3…',
    check: (value) => multiaddrs('peer', value),
  }),
  listen: option<string[]>({
    name: 'listen', env: 'IPFS_NPM_LISTEN', type: 'list', default: [], hint: '<multiaddr>',
    description: 'Where the node listens (default: an ephemeral TCP port)',
    check: (value) => multiaddrs('listen', value),
  }),
  mdns: option<boolean>({
    name: 'mdns', env: 'IPFS_NPM_MDNS', type: 'boolean', default: true,
    description: 'Look for peers on the LAN by mDNS (--no-mdns: don\'t)',
  }),
  bootstrap: option<string[]>({
    name: 'bootstrap', env: 'IPFS_NPM_BOOTSTRAP', type: 'list', default: [], hint: '[<multiaddr>]', bare: 'public',
    description: 'Join the Amino DHT (/ipfs/kad/1.0.0) through these peers; alone or "public": the public network\'s (off by default)',
    check: (value) => multiaddrs('bootstrap', value.filter((address) => address !== 'public')),
  }),
  cidMaps: option<string[]>({
    name: 'cid-map', env: 'IPFS_NPM_CID_MAP', type: 'list', default: [], hint: '<cid>',
    description: 'Integrity → CID maps to use (repeatable): dag-json/dag-cbor blocks any IPFS node can make',
    check: (value) => cids('cid-map', value),
  }),
  peerTimeout: option<number>({
    name: 'peer-timeout', env: 'IPFS_NPM_PEER_TIMEOUT', type: 'number', default: 2000, hint: '<ms>',
    description: 'How long to wait for peers before the registry, in milliseconds',
  }),
  swarmKey: option<string | undefined>({
    name: 'swarm-key', env: 'IPFS_NPM_SWARM_KEY', type: 'string', default: undefined, hint: '<file>',
    description: 'Private network: only nodes with this key connect',
    check: async (value) => { if (value !== undefined) await readSwarmKey(value) },
  }),
  port: option<number>({
    name: 'port', env: 'IPFS_NPM_PORT', type: 'number', default: 9595, hint: '<port>',
    description: 'The port of serve\'s registry, on 127.0.0.1',
    check: (value) => { if (value < 1 || value > 65535) throw usageError(`--port: port must be 1-65535, not ${value}`) },
  }),
  extractWorkers: option<number>({
    name: 'extract-workers', env: 'IPFS_NPM_EXTRACT_WORKERS', type: 'number', default: 0, hint: '<n>',
    description: 'Threads that unpack tarballs during install and ci (default 0: one per core)',
  }),
  indexes: option<string[]>({
    name: 'index', env: 'IPFS_NPM_INDEX', type: 'list', default: [], hint: '<k51…>',
    description: 'A signed index to trust for packuments (repeatable); alone: this machine\'s own (serve publishes to it)',
    check: (value) => indexNames('index', value),
    bare: OWN_INDEX,
  }),
  scopeIndexes: option<string[]>({
    name: 'scope-index', env: 'IPFS_NPM_SCOPE_INDEX', type: 'list', default: [], hint: '<@scope=k51…>',
    description: 'A scope\'s own signed index, asked before the registry (in .ipfs-npmrc: @scope:index = k51…)',
    check: async (value) => {
      const bad = value.find((entry) => !/^@[^/=\s]+=\S+$/.test(entry))
      if (bad !== undefined) throw usageError(`--scope-index: expected @scope=<index name>, not ${JSON.stringify(bad)}`)
      await indexNames('scope-index', value.map((entry) => entry.slice(entry.indexOf('=') + 1)))
    },
  }),
  preferIndex: option<boolean>({
    name: 'prefer-index', env: 'IPFS_NPM_PREFER_INDEX', type: 'boolean', default: false,
    description: 'Look packuments up in the trusted indexes before the registry',
  }),
  indexOnly: option<boolean>({
    name: 'index-only', env: 'IPFS_NPM_INDEX_ONLY', type: 'boolean', default: false,
    description: 'Packuments from the trusted indexes alone, never the registry (serve: a registry with no server)',
  }),
  trustPeers: option<boolean>({
    name: 'trust-peers', env: 'IPFS_NPM_TRUST_PEERS', type: 'boolean', default: false,
    description: 'With the registry unreachable, believe peers\' packuments it has not signed (a swarm key implies it)',
  }),
  seed: option<boolean>({
    name: 'seed', env: 'IPFS_NPM_SEED', type: 'boolean', default: false,
    description: 'publish: keep serving the published tarball to peers until Ctrl-C',
  }),
  serve: option<boolean | undefined>({
    name: 'serve', env: 'IPFS_NPM_SERVE', type: 'boolean', default: undefined,
    description: 'Give peers what npm\'s cache holds, private packages only inside a swarm (default: yes for serve, no for installs)',
  }),
  private: option<string[]>({
    name: 'private', env: 'IPFS_NPM_PRIVATE', type: 'list', default: [], hint: '<registry|@scope>',
    description: 'More registries (URL or host) and scopes whose packages stay inside the swarm (repeatable)',
  }),
}

type Key = keyof typeof OPTIONS

type Values = { [K in Key]: typeof OPTIONS[K]['default'] }
type UnsetKeys = { [K in Key]: undefined extends Values[K] ? K : never }[Key]

/** Our options, resolved: one property per row of `OPTIONS`, typed by its default (optional when that is undefined). */
export type IpfsNpmOptions = { [K in Exclude<Key, UnsetKeys>]: Values[K] } & { [K in UnsetKeys]?: Values[K] }

type Partial = { [K in Key]?: IpfsNpmOptions[K] }

const ROWS = Object.entries(OPTIONS) as Array<[Key, OptionDefinition<unknown>]>
const BY_NAME = new Map(ROWS.map(([key, definition]) => [definition.name, { key, definition }]))

export const DEFAULT_OPTIONS: Readonly<IpfsNpmOptions> = Object.freeze(Object.fromEntries(ROWS.map(([key, { default: value }]) => [key, value])) as IpfsNpmOptions)

/** The usage of a row as `--help` prints it: `--peer <multiaddr>`, `--no-mdns`. */
export function optionUsage (name: string): string | undefined {
  const definition = BY_NAME.get(name)?.definition
  if (definition === undefined) return undefined
  if (definition.type === 'boolean') return `--${definition.default === true ? 'no-' : ''}${name}`
  return `--${name} ${definition.hint ?? '<value>'}`
}

function parseValue (definition: OptionDefinition<unknown>, raw: string, source: string): unknown {
  switch (definition.type) {
    case 'list': return raw.split(/[\s,]+/).filter(Boolean)
    case 'boolean':
      if (/^(true|1|yes)$/i.test(raw)) return true
      if (/^(false|0|no)$/i.test(raw)) return false
      throw usageError(`${source}: ${definition.name} must be true or false, not ${JSON.stringify(raw)}`)
    case 'number':
      if (!/^\d+$/.test(raw)) throw usageError(`${source}: ${definition.name} must be a whole number, not ${JSON.stringify(raw)}`)
      return Number(raw)
    case 'string': return raw
  }
}

/** Sets a value; a list given again (a repeated flag, `key[] =` lines) grows. */
function assign (into: Partial, name: string, value: unknown, append: boolean): void {
  const { key, definition } = BY_NAME.get(name)!
  const record = into as Record<string, unknown>
  if (definition.type === 'list' && append) record[key] = [...(record[key] as string[] ?? []), ...(value as string[])]
  else record[key] = value
}

/** Reads one `.ipfs-npmrc` (ini-style `key = value` lines, `#`/`;` comments). Absent files count as empty. */
export function readRcFile (file: string): Partial {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw usageError(`cannot read ${file}: ${(err as Error).message}`)
  }
  const out: Partial = {}
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return
    // npm's own shape for a scope's registry, `@scope:registry = …`, names a scope's index here
    const scoped = /^(@[^\s:/]+):index\s*=\s*(.*)$/.exec(trimmed)
    if (scoped !== null) {
      assign(out, 'scope-index', scoped[2].split(/[\s,]+/).filter(Boolean).map((name) => `${scoped[1]}=${name}`), true)
      return
    }
    const m = /^([\w-]+?)(\[\])?\s*=\s*(.*)$/.exec(trimmed)
    const row = m === null ? undefined : BY_NAME.get(m[1])
    if (m === null || row === undefined) throw usageError(`${file}:${i + 1}: not an ipfs-npm option: ${JSON.stringify(trimmed)}`)
    assign(out, m[1], parseValue(row.definition, m[3].replace(/^"(.*)"$/, '$1'), `${file}:${i + 1}`), true)
  })
  return out
}

function fromEnv (env: NodeJS.ProcessEnv): Partial {
  const out: Partial = {}
  for (const [, definition] of ROWS) {
    const raw = env[definition.env]
    if (raw !== undefined && raw !== '') assign(out, definition.name, parseValue(definition, raw, definition.env), false)
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
    const definition = name === undefined ? undefined : BY_NAME.get(name)?.definition
    if (!m || name === undefined || definition === undefined) {
      rest.push(arg)
      continue
    }
    let raw = m[3]
    if (m[1] !== undefined) {
      if (definition.type !== 'boolean' || raw !== undefined) throw usageError(`--no-${name} takes no value`)
      raw = 'false'
    } else if (raw === undefined) {
      if (definition.type === 'boolean') raw = 'true'
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('-')) raw = argv[++i]
      else if (definition.bare !== undefined) raw = definition.bare
      else throw usageError(`--${name} needs a value`)
    }
    assign(flags, name, parseValue(definition, raw, `--${name}`), true)
  }
  return { flags, rest }
}

/** Merges defaults < home `.ipfs-npmrc` < project `.ipfs-npmrc` < env < flags. */
export function resolveOptions (init: { flags: Partial, env: NodeJS.ProcessEnv, home: string, projectDir: string }): IpfsNpmOptions {
  const home = readRcFile(join(init.home, '.ipfs-npmrc'))
  const project = init.projectDir === init.home ? {} : readRcFile(join(init.projectDir, '.ipfs-npmrc'))
  return { ...DEFAULT_OPTIONS, ...home, ...project, ...fromEnv(init.env), ...init.flags }
}

/**
 * Runs every row's check: at the start of each command, because the node starts only when a
 * tarball is missing, and a typo in `--peer` or a broken swarm key would otherwise go unnoticed
 * on a warm cache and fail, or silently not apply, on the next cold one.
 */
export async function checkOptions (options: IpfsNpmOptions): Promise<void> {
  for (const [key, definition] of ROWS) await definition.check?.(options[key])
}

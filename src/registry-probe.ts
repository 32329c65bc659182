/**
 * Before npm's config is loaded (that alone costs more than a passthrough may: ≤ 50 ms), whether
 * the registry answers at all: the registry URL read the cheap way — `--registry` on the command
 * line, `npm_config_registry`, then `registry=` in the project's, the user's and npm's builtin
 * `.npmrc` — and one TCP connection to it, given a few tens of milliseconds to fail. A wrong guess
 * is harmless: a reachable registry taken for unreachable only sends the command through the shim,
 * which asks that same registry first; an unreachable one that fails slowly leaves npm as it was.
 */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'

const DEFAULT_REGISTRY = 'https://registry.npmjs.org/'

/** The `registry=` of an npmrc file, if it sets one. */
function registryIn (file: string): string | undefined {
  try {
    const line = readFileSync(file, 'utf8').split(/\r?\n/).find((each) => /^\s*registry\s*=/.test(each))
    return line?.replace(/^\s*registry\s*=\s*/, '').replace(/^["']|["']$/g, '').trim() || undefined
  } catch {
    return undefined
  }
}

/** The value of `--<name> X` or `--<name>=X` in argv. */
function flag (argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') return undefined
    if (argv[i] === `--${name}`) return argv[i + 1]
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3)
  }
  return undefined
}

const envValue = (env: NodeJS.ProcessEnv, name: string): string | undefined =>
  Object.entries(env).find(([key]) => key.toLowerCase() === `npm_config_${name}`)?.[1] || undefined

/** The registry npm would use, by the cheap reading above; `projectDir` holds the project's `.npmrc`. */
export function probableRegistry (init: { argv: readonly string[], env: NodeJS.ProcessEnv, projectDir: string, npmRoot: string }): string {
  const { argv, env } = init
  const userconfig = flag(argv, 'userconfig') ?? envValue(env, 'userconfig') ?? join(homedir(), '.npmrc')
  return flag(argv, 'registry') ?? envValue(env, 'registry') ?? registryIn(join(init.projectDir, '.npmrc')) ??
    registryIn(userconfig) ?? registryIn(join(init.npmRoot, 'npmrc')) ?? DEFAULT_REGISTRY
}

/**
 * Whether the registry is known not to answer: a TCP connection to its host fails (no route,
 * refused, a name that does not resolve) within `timeoutMs`. Slower than that is not a verdict:
 * the command stays npm's, which waits as long as it waits — the probe costs at most `timeoutMs`.
 */
export async function registryRefuses (registry: string, timeoutMs: number): Promise<boolean> {
  let url: URL
  try {
    url = new URL(registry)
  } catch {
    return false
  }
  const port = Number(url.port || (url.protocol === 'http:' ? 80 : 443))
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port })
    const done = (refuses: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(refuses)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('connect', () => done(false))
    socket.once('error', () => done(true))
  })
}

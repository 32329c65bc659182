/**
 * The pair of registries the conformance tests install from: `main` serves every unscoped fixture
 * package, `scoped` serves `@fix/*` and demands a token, as a private scoped registry would.
 * Also writes the `.npmrc` that points npm (and ipfs-npm) at them.
 */
import { writeFile } from 'node:fs/promises'
import { startRegistry } from './registry.ts'
import type { TestRegistry } from './registry.ts'
import type { PackedPackage } from './fixture-packages.ts'

export interface FixtureRegistries {
  main: TestRegistry
  scoped: TestRegistry
  /** The bearer token the scoped registry demands. */
  token: string
  /**
   * The user config lines: registry, `@fix:registry`, the scoped registry's token (nerf-darted
   * to its host only), and no audit/fund/update-notifier, whose requests and output would make
   * runs differ for reasons that are not the install.
   */
  npmrc(extra?: string[]): string
  /** Writes `npmrc(extra)` to `path`. */
  writeUserconfig(path: string, extra?: string[]): Promise<void>
  stop(): Promise<void>
}

/** The scope served by the second, token-protected registry. */
export const privateScope = '@fix'

/** @param init.packages what to serve instead of the fixture packages (e.g. hand-made tarballs) */
export async function startFixtureRegistries (init: { packages?: PackedPackage[] } = {}): Promise<FixtureRegistries> {
  const token = 'fixture-token-not-secret'
  const isPrivate = (name: string): boolean => name.startsWith(`${privateScope}/`)
  const { packages } = init
  const [main, scoped] = await Promise.all([
    startRegistry({ packages, filter: name => !isPrivate(name) }),
    startRegistry({ packages, filter: isPrivate, auth: { token } }),
  ])
  const npmrc = (extra: string[] = []): string => [
    `registry=${main.url}`,
    `${privateScope}:registry=${scoped.url}`,
    `//${scoped.host}/:_authToken=${token}`,
    'audit=false',
    'fund=false',
    'update-notifier=false',
    ...extra,
    '',
  ].join('\n')
  return {
    main,
    scoped,
    token,
    npmrc,
    writeUserconfig: (path, extra) => writeFile(path, npmrc(extra)),
    stop: async () => { await Promise.all([main.stop(), scoped.stop()]) },
  }
}

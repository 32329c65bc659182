/**
 * What every command of ours is given: npm's config, our options, the reporter and the user's npm.
 */
import type { NpmConfig } from '../config.ts'
import type { NpmLocation } from '../npm-location.ts'
import type { Reporter } from '../reporter.ts'
import type { IpfsNpmOptions } from '../options.ts'

export interface CommandContext {
  config: NpmConfig
  options: IpfsNpmOptions
  reporter: Reporter
  npm: NpmLocation
  /** The arguments as typed after `ipfs-npm`, ours taken out: what npm is given when it runs the command itself. */
  argv: string[]
  /** When the command started, for npm's `in 3s`. */
  started: number
  /** Tells the Ctrl-C handler that npm's reify would be running from here on (src/termination.ts). */
  reifying?: () => void
}

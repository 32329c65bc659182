/**
 * Bad input: missing or broken package.json and lockfile, unknown commands and flags, specs
 * the registry cannot satisfy, a wrong token. ipfs-npm must fail (or not) exactly as npm does,
 * with the same message and exit code, and must not lose or change any of the user's files.
 */
import { describeConformance } from '../helpers/conformance-matrix.ts'
import type { MatrixCase } from '../helpers/conformance-matrix.ts'
import type { FixtureRegistries } from '../helpers/fixture-registries.ts'
import { npmBefore, removePaths, truncateJson } from '../helpers/project-edits.ts'

/** The fixture user config with the scoped registry's token replaced, and no retries (fast failure). */
const wrongToken = (registries: FixtureRegistries | undefined): string =>
  registries!.npmrc(['fetch-retries=0']).replace(registries!.token, 'wrong-token')

const noProjectFiles = (dir: string): Promise<void> => removePaths(dir, 'package.json', 'package-lock.json')

const cases: MatrixCase[] = [
  { name: 'empty folder: ci', project: 'basic', args: ['ci'], npmExit: 1, keepsUserFiles: true, prepare: noProjectFiles },
  { name: 'empty folder: install', project: 'basic', args: ['install'], npmExit: 254, keepsUserFiles: true, prepare: noProjectFiles },
  { name: 'lockfile but no package.json: ci', project: 'basic', args: ['ci'], npmExit: 1, keepsUserFiles: true, prepare: dir => removePaths(dir, 'package.json') },
  { name: 'invalid JSON in package.json: ci', project: 'basic', args: ['ci'], npmExit: 1, keepsUserFiles: true, prepare: dir => truncateJson(dir, 'package.json') },
  { name: 'invalid JSON in package.json: install', project: 'basic', args: ['install'], npmExit: 1, keepsUserFiles: true, prepare: dir => truncateJson(dir, 'package.json') },
  { name: 'invalid JSON in package.json: install beta', project: 'basic', args: ['install', 'beta'], npmExit: 1, keepsUserFiles: true, prepare: dir => truncateJson(dir, 'package.json') },
  { name: 'invalid JSON in package-lock.json: ci', project: 'basic', args: ['ci'], npmExit: 1, keepsUserFiles: true, prepare: dir => truncateJson(dir, 'package-lock.json') },
  // npm discards a lockfile it cannot parse and writes a new one.
  { name: 'invalid JSON in package-lock.json: install', project: 'basic', args: ['install'], prepare: dir => truncateJson(dir, 'package-lock.json') },
  { name: 'unknown command', project: 'basic', args: ['frobnicate'], npmExit: 1, keepsUserFiles: true },
  { name: 'unknown flag: ci --frobnicate', project: 'basic', args: ['ci', '--frobnicate'] },
  { name: 'unknown flag: install --frobnicate=3', project: 'basic', args: ['install', '--frobnicate=3'] },
  // npm warns about an invalid value and goes on.
  { name: 'invalid value: ci --omit=bogus', project: 'basic', args: ['ci', '--omit=bogus'] },
  { name: 'install a package the registry does not have (E404)', project: 'basic', args: ['install', 'no-such-package'], npmExit: 1, keepsUserFiles: true },
  { name: 'install a version the registry does not have (ETARGET)', project: 'basic', args: ['install', 'alpha@9'], npmExit: 1, keepsUserFiles: true },
  { name: 'install an invalid spec', project: 'basic', args: ['install', 'alpha@>>>'], npmExit: 1, keepsUserFiles: true },
  {
    name: 'install a scoped package with a wrong token for its registry (E401)',
    project: 'basic',
    args: ['install', '@fix/scoped-b'],
    npmExit: 1,
    keepsUserFiles: true,
    npmrc: wrongToken,
  },
  {
    name: 'ci with a wrong token for the scoped registry (E401)',
    project: 'basic',
    args: ['ci'],
    npmExit: 1,
    keepsUserFiles: true,
    // One scoped package in the lockfile, so the failing request is always the same one.
    prepare: (dir, context) => npmBefore(dir, context, ['install', '--package-lock-only', '@fix/scoped-b']),
    npmrc: wrongToken,
  },
]

describeConformance('bad input', cases)

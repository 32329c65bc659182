/**
 * `ci` and `install` with npm's options: omit, scripts and the script policy, dry runs,
 * lockfile-only, install strategies and peer handling, offline, an out-of-sync lockfile and
 * `ci` over a previous install. ipfs-npm must do what npm does.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrepareContext } from '../helpers/conformance.ts'
import { describeConformance } from '../helpers/conformance-matrix.ts'
import type { MatrixCase } from '../helpers/conformance-matrix.ts'
import { editJson, npmBefore, removePaths } from '../helpers/project-edits.ts'

/** The project as a user has it after `npm ci`: node_modules in place. */
const installed = (dir: string, context: PrepareContext): Promise<void> => npmBefore(dir, context, ['ci'])

/** What scripts.log says ran, in order, in one tool's copy. */
const scriptsLog = async (dir: string): Promise<string> => readFile(join(dir, 'scripts.log'), 'utf8').catch(() => '')

const cases: MatrixCase[] = [
  // omit
  { name: 'basic: ci --omit=dev', project: 'basic', args: ['ci', '--omit=dev'] },
  { name: 'basic: install --omit=dev', project: 'basic', args: ['install', '--omit=dev'] },
  { name: 'basic: ci --omit=optional', project: 'basic', args: ['ci', '--omit=optional'] },
  { name: 'workspaces: ci --omit=dev', project: 'workspaces', args: ['ci', '--omit=dev'] },

  // root lifecycle scripts and the dependency script policy
  {
    name: 'scripts: ci runs root scripts in npm order',
    project: 'scripts',
    args: ['ci'],
    check: async ({ npm }) => {
      assert.equal(await scriptsLog(npm.dir), 'preinstall\ninstall\npostinstall\npreprepare\nprepare\npostprepare\n')
    },
  },
  {
    name: 'scripts: ci --ignore-scripts',
    project: 'scripts',
    args: ['ci', '--ignore-scripts'],
    check: async ({ npm }) => assert.equal(await scriptsLog(npm.dir), ''),
  },
  { name: 'scripts: install --ignore-scripts', project: 'scripts', args: ['install', '--ignore-scripts'] },
  {
    name: 'scripts: ci with allowScripts denying the dependency script',
    project: 'scripts',
    args: ['ci'],
    prepare: dir => editJson(dir, 'package.json', pkg => { pkg.allowScripts = { 'with-script': false } }),
  },
  {
    name: 'scripts: ci with allowScripts approving the dependency script',
    project: 'scripts',
    args: ['ci'],
    prepare: dir => editJson(dir, 'package.json', pkg => { pkg.allowScripts = { 'with-script': true } }),
  },

  // dry runs and lockfile-only
  { name: 'basic: install --dry-run', project: 'basic', args: ['install', '--dry-run'], origins: false },
  { name: 'basic: ci --dry-run', project: 'basic', args: ['ci', '--dry-run'], origins: false },
  { name: 'basic: install --package-lock-only', project: 'basic', args: ['install', '--package-lock-only'], origins: false },
  {
    name: 'basic: install --package-lock-only without a lockfile',
    project: 'basic',
    args: ['install', '--package-lock-only'],
    origins: false,
    prepare: dir => removePaths(dir, 'package-lock.json'),
  },

  // layout and resolution options
  { name: 'basic: ci --install-strategy=nested', project: 'basic', args: ['ci', '--install-strategy=nested'] },
  { name: 'basic: ci --install-strategy=linked', project: 'basic', args: ['ci', '--install-strategy=linked'] },
  { name: 'basic: ci --no-bin-links', project: 'basic', args: ['ci', '--no-bin-links'] },
  { name: 'basic: install --legacy-peer-deps', project: 'basic', args: ['install', '--legacy-peer-deps'] },
  { name: 'basic: install --no-package-lock', project: 'basic', args: ['install', '--no-package-lock'] },
  { name: 'basic: install -O opt-peer', project: 'basic', args: ['install', '-O', 'opt-peer'] },
  { name: 'scripts: ci --foreground-scripts', project: 'scripts', args: ['ci', '--foreground-scripts'] },
  {
    name: 'bundled: ci warns about a deprecated package',
    project: 'bundled',
    args: ['ci'],
    check: ({ npm }) => assert.match(npm.stderr, /npm warn deprecated old-thing@1\.0\.0: old-thing is no longer maintained/),
  },
  {
    name: 'basic: ci --offline on an empty cache fails (ENOTCACHED)',
    project: 'basic',
    args: ['ci', '--offline'],
    npmExit: 1,
    keepsUserFiles: true,
    check: ({ npm }) => assert.match(npm.stderr, /ENOTCACHED/),
  },
  {
    // npm only warns here: the conflicting peer is overridden, not refused.
    name: 'basic: install --strict-peer-deps gamma@2.0.0 (peer conflict) warns as npm warns',
    project: 'basic',
    args: ['install', '--strict-peer-deps', 'gamma@2.0.0'],
    check: ({ npm }) => assert.match(npm.stderr, /npm warn ERESOLVE overriding peer dependency/),
  },

  // lockfile state
  {
    name: 'basic: ci on an out-of-sync lockfile fails as npm fails',
    project: 'basic',
    args: ['ci'],
    npmExit: 1,
    keepsUserFiles: true,
    prepare: dir => editJson(dir, 'package.json', pkg => {
      (pkg.dependencies as Record<string, string>)['bundled-dep'] = '^1.0.0'
    }),
    check: ({ ipfsNpm }) => assert.match(ipfsNpm.stderr, /npm error code EUSAGE/),
  },
  {
    name: 'basic: ci with a peer conflict warns (ERESOLVE) and fails out of sync, as npm does',
    project: 'basic',
    args: ['ci'],
    npmExit: 1,
    keepsUserFiles: true,
    prepare: dir => editJson(dir, 'package.json', pkg => {
      (pkg.dependencies as Record<string, string>).gamma = '^2.0.0'
    }),
    check: ({ npm }) => assert.match(npm.stderr, /npm warn ERESOLVE overriding peer dependency\nnpm warn While resolving/),
  },
  {
    name: 'installed basic: ci empties node_modules and installs again',
    project: 'basic',
    args: ['ci'],
    prepare: async (dir, context) => {
      await installed(dir, context)
      await writeFile(join(dir, 'node_modules', 'stray.txt'), 'ci must remove me\n')
    },
    check: ({ ipfsNpm }) => assert.equal(ipfsNpm.tree.has('node_modules/stray.txt'), false),
  },
  {
    name: 'installed basic: install with everything in place',
    project: 'basic',
    args: ['install'],
    prepare: installed,
  },
]

describeConformance('ci and install with options', cases)

/**
 * The plan (DESIGN step 5): what a mode (install, ci) gives reify — Arborist with its ideal
 * tree built — and, from that tree, the tarballs reify will extract.
 */
import type { FetchPhaseItem } from '../fetch-phase.ts'
import { registryTarballUrl } from '../tarball-url.ts'
import type { Pipeline } from '../pipeline.ts'
import type { PreviousTree } from '../extract/previous-tree.ts'
import type { ArboristClass, ArboristLike, ArboristOptions, TreeNode } from './arborist-types.ts'

type PlannedNode = TreeNode & { shouldOmit?(omit: Set<string>): boolean }

/** A tarball reify will extract, and the tree node it is for. */
export interface PlannedTarball extends FetchPhaseItem {
  node: TreeNode
}

export interface PlanInit {
  omit: Set<string>
  registryFor: (name: string) => string
}

/**
 * Whether reify would extract a tarball for `node` (not a link, root or omitted dependency);
 * whether it is bundled is asked last, by plannedTarballs.
 */
function extracts (node: PlannedNode, omit: Set<string>): boolean {
  if (node.isProjectRoot || node.isWorkspace || node.isLink || node.inert) return false
  if (node.shouldOmit?.(omit)) return false
  return typeof node.integrity === 'string' && (node.resolved === null || /^https?:/.test(node.resolved))
}

/**
 * The tarballs reify will need for `ideal`, skipping what `actual` already has in place.
 * A registry package whose lockfile entry omits `resolved` is fetched from the URL npm would use.
 */
export function plannedTarballs (ideal: TreeNode, actual: TreeNode | undefined, init: PlanInit): PlannedTarball[] {
  const items: PlannedTarball[] = []
  for (const node of ideal.inventory.values()) {
    if (!extracts(node, init.omit)) continue
    const version = node.version ?? node.package.version ?? ''
    const name = node.packageName ?? node.name
    // a malformed lockfile can make these anything: such entries are reify's to report, as npm does
    if (typeof version !== 'string' || typeof name !== 'string') continue
    const present = actual?.inventory.get(node.location)
    if (present && present.version === version && present.packageName === name && present.integrity === node.integrity) continue
    // asked only of what is not in place: it walks all of a node's dependents (over the monorepo's
    // kept node_modules, asked of all 1,270 nodes it took 12-19 ms of the main thread)
    if (node.inBundle) continue
    const resolved = node.resolved ?? (node.isRegistryDependency ? registryTarballUrl(init.registryFor(name), name, version) : undefined)
    items.push({ node, ref: { name, version, integrity: node.integrity as string, resolved }, optional: node.optional === true, path: node.path })
  }
  return items
}

/**
 * Gives registry nodes without `resolved` their tarball's URL on the registry Arborist is pointed
 * at (`registryFor`: the shim, or npm's own registries offline), so pacote reads them from the
 * cache by digest instead of first asking for their packument; one the fetch phase could not get
 * (an optional package) is asked of the shim and its resolver, not of a registry past them. Only
 * where it changes nothing npm would write: see the callers.
 */
export function fillRegistryResolved (items: readonly PlannedTarball[], registryFor: (name: string) => string): void {
  for (const { node, ref } of items) {
    if (node.resolved === null && node.isRegistryDependency) node.resolved = registryTarballUrl(registryFor(ref.name), ref.name, ref.version)
  }
}

/**
 * Gives the plan's registry nodes their `resolved` URL where that changes nothing npm would
 * write (`fillResolved`: the lockfile has none and will keep none), so that reify unpacks them by
 * digest with our extractor instead of first reading their manifest: offline from npm's own
 * registries, else from the shim (`reifyRegistry`). Not for linked-store folders, which
 * `resolved` also names, nor with `--no-bin-links`, where pacote's reading of the manifest is what
 * marks bins executable.
 */
export function fillResolvedWhereSafe (items: readonly PlannedTarball[], init: { fillResolved: boolean, flat: Record<string, unknown>, registryFor: (name: string) => string, reifyRegistry: string }): void {
  const { flat } = init
  if (!init.fillResolved || flat.installStrategy === 'linked' || flat.binLinks === false) return
  fillRegistryResolved(items, flat.offline ? init.registryFor : () => init.reifyRegistry)
}

/** A mode's plan: the Arborist to reify with, the ideal tree built. */
export interface Plan {
  arb: ArboristLike
  /** The options to reify with. */
  options: ArboristOptions
  /** The actual tree to diff against for the fetch phase; undefined when node_modules starts empty. */
  actual: TreeNode | undefined
  /** Whether no lockfile will be written with registry `resolved` URLs filled in (see fillRegistryResolved). */
  fillResolved: boolean
  /** The tree `ci` moved aside, deleted once the new one is in place. */
  previous?: PreviousTree
}

/** Everything a mode (install or ci) adds to npm's common steps. */
export interface ReifyMode {
  name: 'install' | 'ci'
  /** Arborist options on top of the shared ones. */
  options: Record<string, unknown>
  /** Builds (and checks) the ideal tree; `extraction.warm()` once it is sure tarballs will be unpacked. */
  plan(options: ArboristOptions, pipeline: Pipeline, Arborist: ArboristClass, extraction: { warm(): void }): Promise<Plan>
  /** Whether root lifecycle scripts run afterwards. */
  runRootScripts: boolean
}

/**
 * The plan (DESIGN step 5) as tarballs: from Arborist's ideal tree, what reify will extract.
 */
import type { FetchPhaseItem } from '../fetch-phase.ts'
import { registryTarballUrl } from '../tarball-url.ts'
import type { TreeNode } from './arborist-types.ts'

type PlannedNode = TreeNode & { shouldOmit?(omit: Set<string>): boolean }

/** A tarball reify will extract, and the tree node it is for. */
export interface PlannedTarball extends FetchPhaseItem {
  node: TreeNode
}

export interface PlanInit {
  omit: Set<string>
  registryFor: (name: string) => string
}

/** Whether reify will extract a tarball for `node` (not a link, root, bundled or omitted dependency). */
function extracts (node: PlannedNode, omit: Set<string>): boolean {
  if (node.isProjectRoot || node.isWorkspace || node.isLink || node.inBundle || node.inert) return false
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

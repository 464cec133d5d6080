/**
 * Where else an anchored image scalar is read. `x-img: &img postgres:16` with `image: *img` is one text
 * read in several places: rewriting it for the image rewrites what every alias reads. When an alias
 * (or the anchor's own place) is not an image position, say `UPSTREAM_IMAGE: *img` in an environment
 * or a label, pin refuses that image (pin.ts) rather than change a value a program reads as something
 * else; giving that value its own text is a one-line fix.
 */
import { type Document, isAlias, isPair, isScalar, isSeq, visit } from 'yaml'

/** `services.db.environment.UPSTREAM_IMAGE`, `services.cache.command[1]`: where `node` sits. */
function position(path: readonly unknown[], node: unknown): string {
  const chain = [...path, node]
  let out = ''
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i]
    const child = chain[i + 1]
    if (isPair(parent) && parent.value === child)
      out += `${out ? '.' : ''}${isScalar(parent.key) ? String(parent.key.value) : '?'}`
    else if (isSeq(parent)) out += `[${parent.items.indexOf(child as never)}]`
  }
  return out
}

/** Compose ignores extension fields (`x-…`): the usual home of a shared anchor, not a use of it. */
const underExtension = (path: readonly unknown[]) =>
  path.some((p) => isPair(p) && isScalar(p.key) && String(p.key.value).startsWith('x-'))

/**
 * For each of `scalars` (image scalars) that is anchored: the places outside `imagePlaces` (the nodes
 * written at image positions) that read it. Aliases are matched to anchors in document order, as YAML
 * resolves them, so each alias costs one lookup whatever the file's size.
 */
export function usesOutside(
  doc: Document,
  scalars: ReadonlySet<unknown>,
  imagePlaces: ReadonlySet<unknown>,
  opts: { prefix: string; compose: boolean },
): Map<unknown, string[]> {
  const anchors = new Map<string, unknown>()
  const uses = new Map<unknown, string[]>()
  const use = (target: unknown, path: readonly unknown[], node: unknown) =>
    uses.set(target, [...(uses.get(target) ?? []), `${opts.prefix}${position(path, node)}`])
  visit(doc, (_key, node, path) => {
    if (isAlias(node)) {
      const target = anchors.get(node.source)
      if (scalars.has(target) && !imagePlaces.has(node)) use(target, path, node)
      return
    }
    // An empty value (`{{ include "x" . }}` in a chart template parses as a flow map of them) is null.
    const anchor = (node as { anchor?: string } | null)?.anchor
    if (!anchor) return
    anchors.set(anchor, node)
    if (scalars.has(node) && !imagePlaces.has(node) && !(opts.compose && underExtension(path)))
      use(node, path, node)
  })
  return uses
}

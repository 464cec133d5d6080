/**
 * Compose services that are built, not pulled (`build: ./api`, `build: {context, dockerfile}`). Their
 * images come from a Dockerfile's FROM lines, so a service without `image:` is reported rather than
 * passed over in silence, and its Dockerfile is followed and pinned like any other, once however many
 * services name it, and only while it stays inside the tree being pinned (as symbolic links are).
 */
import { realpath, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative } from 'node:path'
import { type Document, isMap, isScalar, type Node } from 'yaml'
import { type IgnoredFile, type InputFile, inside } from './files.js'
import { deref, entries, get, stringScalar } from './sites.js'

export interface ComposeBuild {
  service: string
  /** `services.api.build` */
  at: string
  line: number
  /** The context as written (`./api`, or the map's `context`, `.` when absent), for people. */
  context: string
  /** Also has `image:`: the name the build is tagged with, pinned as any other image. */
  image: boolean
  /** The Dockerfile, relative to the Compose file's directory or absolute... */
  dockerfile?: string
  /** ...or, when there is none to follow, what it is built from and why it is left alone. */
  unfollowed?: { from: string; why: string }
}

const TEMPLATE = /\$\{|\{\{/
// A git URL or any URL: Compose clones it, there is no file here to read.
const REMOTE = /^(?:[a-z][a-z0-9+.-]*:\/\/|git@)/i

const scalarText = (node: unknown) => (stringScalar(node) ? String(node.value) : undefined)

export function composeBuilds(docs: Document[], lineOf: (node: Node) => number): ComposeBuild[] {
  return docs.flatMap((doc, i) => {
    const prefix = docs.length > 1 ? `[${i}].` : ''
    return entries(doc, get(doc, doc.contents, 'services')).flatMap(([service, node]) => {
      const build = get(doc, node, 'build') as Node | undefined
      if (!build) return []
      // The line of `build:` itself, when the service writes it (not through a << merge).
      const written = deref(doc, node)
      const key = isMap(written)
        ? written.items.find((p) => isScalar(p.key) && p.key.value === 'build')?.key
        : undefined
      const map = stringScalar(build) ? undefined : build
      const context = scalarText(build) ?? scalarText(get(doc, map, 'context')) ?? '.'
      const dockerfile = scalarText(get(doc, map, 'dockerfile')) ?? 'Dockerfile'
      const b: ComposeBuild = {
        service,
        at: `${prefix}services.${service}.build`,
        line: lineOf(isScalar(key) ? key : build),
        context,
        image: get(doc, node, 'image') !== undefined,
      }
      if (REMOTE.test(context))
        b.unfollowed = { from: 'a remote context', why: 'its Dockerfile is not pinned' }
      else if (get(doc, map, 'dockerfile_inline') !== undefined)
        b.unfollowed = { from: 'dockerfile_inline', why: 'a Dockerfile inside YAML is not pinned' }
      else if (TEMPLATE.test(context) || TEMPLATE.test(dockerfile))
        b.unfollowed = { from: `${context}, a template`, why: 'its Dockerfile is not followed' }
      else b.dockerfile = isAbsolute(dockerfile) ? dockerfile : join(context, dockerfile)
      return [b]
    })
  })
}

/** What following a build found: the Dockerfile to read (if any) and the report's one line. */
export interface Followed {
  message: string
  /** A file to read as a Dockerfile: one already read is not returned again. */
  file?: InputFile
  ignored?: IgnoredFile
}

/**
 * Follows one build of the Compose file `from` to its Dockerfile. `known` holds the real paths of the
 * files already read (and is added to), so that a Dockerfile named by several services, or found by
 * the walk as well, is read once.
 */
export async function followBuild(from: InputFile, b: ComposeBuild, known: Set<string>): Promise<Followed> {
  const built = `service ${b.service} is built from`
  if (!b.dockerfile) return { message: `${built} ${b.unfollowed!.from}, not pulled: ${b.unfollowed!.why}` }
  const path = isAbsolute(b.dockerfile) ? b.dockerfile : join(dirname(from.path), b.dockerfile)
  const message = `${built} ${path}, not pulled`
  const real = await realpath(path).catch(() => undefined)
  const info = real && (await stat(real))
  if (!real || !info || !info.isFile()) return { message: `${message}; that file does not exist` }
  const { top, root } = from.tree
  if (!inside(root, real)) {
    const reason = `${path} → ${real}: the Dockerfile of service ${b.service}, out of ${top}`
    return {
      message: `${message}; that file is out of ${top}, not read`,
      ignored: { file: path, target: real, outside: true, reason },
    }
  }
  if (known.has(real)) return { message }
  known.add(real)
  const { mode, uid, gid } = info
  const file: InputFile = {
    path,
    real,
    explicit: false,
    relative: relative(top, path),
    tree: from.tree,
    mode: mode & 0o7777,
    uid,
    gid,
  }
  return { message, file }
}

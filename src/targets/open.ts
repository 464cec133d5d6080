import type { BundleReader } from '../bundle/reader.js'
import type { ReadOnlyTarget, Target } from '../content/target.js'
import type { Context } from '../context.js'
import {
  formatLocation,
  invalidReference,
  type Location,
  manifestReference,
  parseLocation,
  parseReference,
  repositoryName,
  writable,
} from '../reference/index.js'

export interface OpenOptions {
  /**
   * A destination: a layout directory is created when it does not exist, and a bundle is refused
   * (bundles are written whole, by `ferry bundle create`).
   */
  create?: boolean
}

export interface Opened<T extends ReadOnlyTarget = Target> {
  target: T
  /** The manifest reference to ask the target for: digest when given, else tag, else `latest`. */
  reference: string
}

/**
 * Locations routed to the backends that hold them, as regclient's `scheme` routes a reference: a
 * registry repository, an OCI layout directory, or an air-gap bundle (read-only, verified blob by blob
 * before anything is read from it). Text is parsed by the location grammar; a parsed location is used as
 * it is. All of them share the context's registry client, and a bundle file is opened, and verified,
 * once however many of its images are read. `close` releases the targets and bundles (the client is the
 * context's).
 */
export class TargetSet {
  private readonly bundles = new Map<string, Promise<BundleReader>>()
  /** The close of each layout or bundle target handed out, as it was then. */
  private readonly closers: (() => Promise<void>)[] = []

  constructor(private readonly ctx: Context) {}

  /** Any location, to read from: a registry, a layout, or an image in a bundle. */
  async openSource(location: Location | string): Promise<Opened<ReadOnlyTarget>> {
    const where = typeof location === 'string' ? parseLocation(location) : location
    if (where.kind !== 'bundle') return this.open(where)
    const repository = repositoryName(where)
    if (repository === undefined) {
      throw invalidReference(
        typeof location === 'string' ? location : formatLocation(where),
        'expected bundle:FILE.tar:IMAGE, e.g. bundle:site.tar:docker.io/library/postgres:16 (the image as the bundle names it)',
      )
    }
    const target = (await this.bundle(where.path)).target(repository)
    return this.handed({ target, reference: manifestReference(where) })
  }

  /**
   * A location that is written to (or may be): a registry or a layout, its directory made with `create`.
   * A bundle is refused in one line: bundles are written whole, by `ferry bundle create`.
   */
  async open(location: Location | string, opts: { create?: boolean } = {}): Promise<Opened> {
    const where =
      typeof location === 'string' ? parseReference(location) : writable(location, formatLocation(location))
    const reference = manifestReference(where)
    // A registry repository holds nothing of its own to close (the context closes the client's
    // connections), so it is not kept: a sync opens one per image, and they would all live to the end.
    if (where.kind === 'registry') return { target: this.ctx.client.repository(where), reference }
    // Loaded on first use, as the bundle reader is: a command on registries alone does not pay for them.
    const { openLayoutTarget } = await import('../layout/index.js')
    const target = await openLayoutTarget(where.path, {
      create: opts.create,
      logger: this.ctx.logger,
      repository: where.repository,
    })
    return this.handed({ target, reference })
  }

  private handed<T extends ReadOnlyTarget>(opened: Opened<T>): Opened<T> {
    this.closers.push(opened.target.close.bind(opened.target))
    return opened
  }

  private bundle(path: string): Promise<BundleReader> {
    let reader = this.bundles.get(path)
    if (!reader) {
      reader = import('../bundle/reader.js').then(({ BundleReader }) => BundleReader.open(path))
      // A bundle that failed to open is not kept: close() must not wait on it again.
      reader.catch(() => this.bundles.delete(path))
      this.bundles.set(path, reader)
    }
    return reader
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.closers.splice(0).map((close) => close()))
    const readers = await Promise.allSettled(this.bundles.values())
    this.bundles.clear()
    for (const r of readers) if (r.status === 'fulfilled') await r.value.close()
  }
}

/**
 * One location to read from, any form (see TargetSet). Closing the target releases what was opened
 * for it (the bundle file); the client stays the context's.
 */
export async function openSource(ctx: Context, location: Location | string): Promise<Opened<ReadOnlyTarget>> {
  return owned(ctx, (targets) => targets.openSource(location))
}

/** One location that is written to: a registry or a layout (with `create`, its directory made). */
export async function openTarget(
  ctx: Context,
  location: Location | string,
  opts: OpenOptions = {},
): Promise<Opened> {
  return owned(ctx, (targets) => targets.open(location, { create: opts.create }))
}

/** The caller's target owns the set it came from: closing it closes the target and the bundle. */
async function owned<T extends ReadOnlyTarget>(
  ctx: Context,
  open: (targets: TargetSet) => Promise<Opened<T>>,
): Promise<Opened<T>> {
  const targets = new TargetSet(ctx)
  try {
    const opened = await open(targets)
    opened.target.close = () => targets.close()
    return opened
  } catch (err) {
    await targets.close()
    throw err
  }
}

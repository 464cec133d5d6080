import { BundleReader } from '../bundle/reader.js'
import type { Target } from '../content/target.js'
import { openLayoutTarget } from '../layout/index.js'
import {
  bundleIsReadOnly,
  formatLocation,
  invalidReference,
  type Location,
  manifestReference,
  parseLocation,
  repositoryName,
} from '../reference/index.js'
import { RegistryClient, type RegistryOptions } from '../registry/index.js'

export interface OpenOptions extends RegistryOptions {
  /** Reuse one client (one connection pool, one token cache) across several targets. */
  client?: RegistryClient
  /**
   * A destination: a layout directory is created when it does not exist, and a bundle is refused
   * (bundles are written whole, by `ferry bundle create`).
   */
  create?: boolean
}

export interface Opened {
  target: Target
  /** The manifest reference to ask the target for: digest when given, else tag, else `latest`. */
  reference: string
}

/**
 * Locations routed to the backends that hold them, as regclient's `scheme` routes a reference: a
 * registry repository, an OCI layout directory, or an air-gap bundle (read-only, verified blob by blob
 * before anything is read from it). Text is parsed by the location grammar; a parsed location is used as
 * it is. All of them share one registry client (made on first use unless one is given), and a bundle file
 * is opened, and verified, once however many of its images are read. `close` releases all of it.
 */
export class TargetSet {
  private made: RegistryClient | undefined
  private readonly bundles = new Map<string, Promise<BundleReader>>()
  /** The close of each target handed out, as it was then. */
  private readonly closers: (() => Promise<void>)[] = []

  constructor(private readonly opts: OpenOptions = {}) {}

  /** The registry client every registry target of this set uses. */
  get client(): RegistryClient {
    if (this.opts.client) return this.opts.client
    this.made ??= new RegistryClient(this.opts)
    return this.made
  }

  async open(location: Location | string, opts: { create?: boolean } = {}): Promise<Opened> {
    const opened = await this.route(location, opts)
    this.closers.push(opened.target.close.bind(opened.target))
    return opened
  }

  private async route(location: Location | string, opts: { create?: boolean }): Promise<Opened> {
    const where = typeof location === 'string' ? parseLocation(location) : location
    const shown = () => (typeof location === 'string' ? location : formatLocation(where))
    const reference = manifestReference(where)
    if (where.kind === 'layout') {
      const target = await openLayoutTarget(where.path, {
        create: opts.create,
        logger: this.opts.logger,
        repository: where.repository,
      })
      return { target, reference }
    }
    if (where.kind === 'registry') return { target: this.client.repository(where), reference }
    if (opts.create) throw bundleIsReadOnly(shown())
    const repository = repositoryName(where)
    if (repository === undefined) {
      throw invalidReference(
        shown(),
        'expected bundle:FILE.tar:IMAGE, e.g. bundle:site.tar:docker.io/library/postgres:16 (the image as the bundle names it)',
      )
    }
    return { target: (await this.bundle(where.path)).target(repository), reference }
  }

  private bundle(path: string): Promise<BundleReader> {
    let reader = this.bundles.get(path)
    if (!reader) {
      reader = BundleReader.open(path)
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
    await this.made?.close()
  }
}

/**
 * One location opened as its backend (see TargetSet). Closing the target releases what was opened for
 * it: a registry client made here, the bundle file.
 */
export async function openTarget(location: Location | string, opts: OpenOptions = {}): Promise<Opened> {
  const targets = new TargetSet(opts)
  try {
    const opened = await targets.open(location, { create: opts.create })
    // The caller's target owns the set: closing it closes the target, the client and the bundle file.
    opened.target.close = () => targets.close()
    return opened
  } catch (err) {
    await targets.close()
    throw err
  }
}

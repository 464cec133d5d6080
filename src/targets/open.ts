import type { Target } from '../content/target.js'
import { openLayoutTarget } from '../layout/index.js'
import { manifestReference, type Reference } from '../reference/index.js'
import { RegistryClient, type RegistryOptions } from '../registry/index.js'

export interface OpenOptions extends RegistryOptions {
  /** Reuse one client (one connection pool, one token cache) across several targets. */
  client?: RegistryClient
  /** Create the layout directory when it does not exist (destinations). */
  create?: boolean
}

export interface Opened {
  target: Target
  /** The manifest reference to ask the target for: digest when given, else tag, else `latest`. */
  reference: string
}

/** A parsed reference to the backend that holds it: a registry repository or an OCI layout directory. */
export async function openTarget(ref: Reference, opts: OpenOptions = {}): Promise<Opened> {
  if (ref.kind === 'layout') {
    const target = await openLayoutTarget(ref.path, {
      create: opts.create,
      logger: opts.logger,
      repository: ref.repository,
    })
    return { target, reference: manifestReference(ref) }
  }
  const client = opts.client ?? new RegistryClient(opts)
  const repo = client.repository(ref.registry, ref.repository)
  if (!opts.client) {
    // The target owns a client it created: closing the target closes the pool.
    const close = repo.close.bind(repo)
    repo.close = async () => {
      await close()
      await client.close()
    }
  }
  return { target: repo, reference: manifestReference(ref) }
}

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer } from '../../src/serve/index.js'
import { startDistribution } from '../helpers/distribution.js'

/** A registry on loopback: the CNCF distribution registry (no referrers API) or ferry serve (OCI 1.1 API). */
export interface Backend {
  kind: 'distribution' | 'serve'
  host: string
  url: string
  stop(): Promise<void>
}

export async function startBackend(kind: Backend['kind']): Promise<Backend> {
  if (kind === 'distribution') {
    const d = await startDistribution()
    return { kind, host: d.host, url: d.url, stop: () => d.stop() }
  }
  const dir = await mkdtemp(join(tmpdir(), 'ferry-supply-serve-'))
  const server = await startServer({ root: join(dir, 'root'), port: 0 })
  return {
    kind,
    host: server.host,
    url: server.url,
    async stop() {
      await server.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** How each backend lists referrers, as listAttached and verifyImage label it. */
export const SCHEME = { distribution: 'tag-schema', serve: 'referrers-api' } as const

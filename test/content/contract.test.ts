import { afterAll, beforeAll, describe } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type ContractBackend, targetContract } from '../helpers/target-contract.js'
import { type Served, serveTemp } from '../serve/helpers.js'

/**
 * The storage contract (test/helpers/target-contract.ts) on a registry repository over HTTP:
 * distribution 2.8 (no referrers API, no tag DELETE) and ferry serve (OCI 1.1). Memory and an OCI layout
 * run the same cases in the unit suite (test/unit/content/contract.test.ts).
 */

let reg: Distribution
let served: Served
const client = new RegistryClient()

const backends: ContractBackend[] = [
  {
    name: 'distribution 2.8',
    open: async (r) => client.repository({ registry: reg.host, repository: r }),
    deletes: { manifest: true, tag: false },
    listing: 'tag-schema',
  },
  {
    name: 'ferry serve',
    open: async (r) => client.repository({ registry: served.server.host, repository: r }),
    deletes: { manifest: true, tag: true },
    listing: 'api',
  },
]

beforeAll(async () => {
  reg = await startDistribution()
  served = await serveTemp()
})

afterAll(async () => {
  await client.close()
  await reg?.stop()
  await served?.stop()
})

describe.each(backends)('storage contract on $name', targetContract)

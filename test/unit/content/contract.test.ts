import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import { openLayoutTarget } from '../../../src/layout/index.js'
import { type ContractBackend, targetContract } from '../../helpers/target-contract.js'

/**
 * The storage contract (test/helpers/target-contract.ts) on the in-process backends: memory and an OCI
 * layout directory. The integration suite runs the same cases on registries over HTTP.
 */

let dir: string

const backends: ContractBackend[] = [
  {
    name: 'memory',
    open: async (r) => new MemoryTarget(`memory:${r}`),
    deletes: { manifest: true, tag: true },
    listing: 'index',
  },
  {
    name: 'OCI layout',
    open: (r) => openLayoutTarget(join(dir, 'layout'), { create: true }).then((t) => t.layout.target(r)),
    deletes: { manifest: true, tag: true },
    listing: 'index',
  },
]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-contract-'))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe.each(backends)('storage contract on $name', targetContract)

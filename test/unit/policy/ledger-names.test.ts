import { describe, expect, it } from 'vitest'
import { type LedgerRecord, ledgerRecordsFor } from '../../../src/ledger/index.js'

const D = `sha256:${'d'.repeat(64)}`
const record = (destination: string): LedgerRecord => ({
  time: '2026-12-07T00:00:00Z',
  verdict: 'promoted',
  source: 'localhost:5000/acme/api:v1',
  destination,
  digest: D,
  environment: 'prod',
  checks: [],
  labels: {},
  forced: false,
  ferryVersion: '0.0.0-test',
})

describe('ledger lookups compare destinations in canonical form (M5)', () => {
  const records = [
    record('localhost:5000/acme/api-prod:v1'),
    record('LOCALHOST:5000/acme/api-prod:v2'),
    record('registry.intra:443/acme/web-prod:v1'),
    record('docker.io/library/nginx:1.27'),
  ]
  it.each([
    ['LOCALHOST:5000/acme/api-prod:v1', ['localhost:5000/acme/api-prod:v1']],
    ['localhost:5000/acme/api-prod:v2', ['LOCALHOST:5000/acme/api-prod:v2']],
    ['Registry.Intra/acme/web-prod:v1', ['registry.intra:443/acme/web-prod:v1']],
    ['index.docker.io/nginx:1.27', ['docker.io/library/nginx:1.27']],
    ['v2', ['LOCALHOST:5000/acme/api-prod:v2']],
    ['localhost:5000/acme/api-prod:v3', []],
    ['localhost:5000/acme/api:v1', []],
  ])('%s', (key, want) => {
    expect(ledgerRecordsFor(records, key).map((r) => r.destination)).toEqual(want)
  })
})

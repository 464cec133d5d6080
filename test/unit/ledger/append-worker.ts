// A separate process appending to one ledger, for the concurrency test:
//   append-worker.ts FILE LABEL COUNT   appends COUNT promote records whose source is LABEL-i
import { appendLedger } from '../../../src/ledger/index.js'

const [file, label, count] = process.argv.slice(2)
if (!file || !label || !count) throw new Error('usage: append-worker FILE LABEL COUNT')
for (let i = 0; i < Number(count); i++) {
  await appendLedger(file, {
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    operation: 'promote',
    verdict: 'promoted',
    source: `reg.test/acme/${label}:${i}`,
    destination: `reg.test/acme/${label}-prod:${i}`,
    digest: `sha256:${String(i).padStart(64, '0')}`,
    environment: null,
    checks: [],
    labels: {},
    forced: false,
    ferryVersion: '0.0.0-test',
  })
}

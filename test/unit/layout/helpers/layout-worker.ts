// A separate ferry process working on one layout, for the concurrency tests:
//   tags DIR REPOSITORY|- PREFIX COUNT   pushes COUNT images tagged PREFIX-i, each with a blob every
//                                        worker writes at the same time
//   hold DIR                             takes index.json's lock, says "held" and waits to be killed
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { openLayoutTarget } from '../../../../src/layout/index.js'
import { digestOf } from '../../../../src/oci/digest.js'
import { MediaType } from '../../../../src/oci/media-types.js'
import { acquireLock } from '../../../../src/util/lock.js'
import { manifestOf, putManifest } from '../../../helpers/registry-fixtures.js'

const [command, dir, repository, prefix, count] = process.argv.slice(2)
if (!dir) throw new Error('usage: layout-worker tags|hold DIR ...')

if (command === 'hold') {
  await acquireLock(join(dir, 'index.json.lock'))
  process.stdout.write('held\n')
  await sleep(60_000)
} else {
  const target = await openLayoutTarget(dir, {
    create: true,
    repository: repository === '-' ? undefined : repository,
  })
  // Identical bytes in every worker, streamed in small pieces so the writers interleave.
  const shared = Buffer.alloc(2 << 20, 'shared layer ')
  const desc = { mediaType: MediaType.ociLayerGzip, digest: digestOf(shared), size: shared.length }
  const chunks = async function* () {
    for (let i = 0; i < shared.length; i += 64 * 1024) {
      yield shared.subarray(i, i + 64 * 1024)
      await sleep(1)
    }
  }
  await target.pushBlob(desc, Readable.from(chunks()))
  const config = Buffer.from('{}')
  const configDesc = { mediaType: MediaType.ociConfig, digest: digestOf(config), size: config.length }
  await target.pushBlob(configDesc, Readable.from([config]))
  for (let i = 0; i < Number(count); i++) {
    const tag = `${prefix}-${i}`
    const manifest = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: configDesc,
      layers: [desc],
      annotations: { tag },
    })
    await putManifest(target, manifest, tag)
  }
  process.stdout.write('done\n')
}

import { createHash, generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, rekorHandler } from '@sigstore/mock'
import type { TrustedRoot } from '../../src/sign/index.js'

// Fulcio and Rekor have no local build; @sigstore/mock's CA and log (real certificates, real signed
// entries and inclusion proofs) stand in for them, served over loopback HTTP, with the trusted root
// that matches them.
export interface SigstoreStandIn {
  url: string
  trustedRoot: TrustedRoot
  close(): Promise<void>
}

/** An unsigned JWT: the Fulcio stand-in reads the claims without checking a signature. */
export function jwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`
}

export function identityToken(email: string, issuer: string): string {
  return jwt({
    iss: issuer,
    sub: email,
    email,
    email_verified: true,
    aud: 'sigstore',
    exp: Math.floor(Date.now() / 1000) + 600,
  })
}

export async function startSigstoreStandIn(): Promise<SigstoreStandIn> {
  const p256 = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const caKeys = p256()
  const ctlog = await initializeCTLog(caKeys)
  const ca = await initializeCA(caKeys, ctlog)
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const tlog = await initializeTLog(url, p256())
  const handlers = [fulcioHandler(ca), rekorHandler(tlog)]
  server.on('request', (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const handler = req.method === 'POST' ? handlers.find((h) => h.path === req.url) : undefined
      if (!handler) {
        res.writeHead(404).end()
        return
      }
      const out = await handler.fn(Buffer.concat(chunks).toString('utf8'))
      res.writeHead(out.statusCode, { 'content-type': out.contentType ?? 'text/plain' }).end(out.response)
    })
  })
  const validFor = { start: new Date(Date.now() - 3600_000) }
  const logKey = (rawBytes: Buffer) => ({ rawBytes, keyDetails: 5 /* PKIX_ECDSA_P256_SHA_256 */, validFor })
  const trustedRoot: TrustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: url,
        certChain: { certificates: [{ rawBytes: Buffer.from(ca.rootCertificate.buffer) }] },
        validFor,
        operator: 'test',
      },
    ],
    tlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 1, // SHA2_256
        publicKey: logKey(tlog.publicKey),
        logId: { keyId: createHash('sha256').update(tlog.publicKey).digest() },
        checkpointKeyId: undefined,
        operator: 'test',
      },
    ],
    ctlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 1,
        publicKey: logKey(ctlog.publicKey),
        logId: { keyId: Buffer.from(ctlog.logID.buffer) },
        checkpointKeyId: undefined,
        operator: 'test',
      },
    ],
    timestampAuthorities: [],
  }
  return {
    url,
    trustedRoot,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

import { execFileSync } from 'node:child_process'
import { verify, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FerryError } from '../../src/errors.js'
import { redact } from '../../src/log.js'
import { keyFingerprint, readPublicKey } from '../../src/sign/index.js'
import { openSigner, readPublicKeyOf, writeTokenKeyPair } from '../../src/supply/index.js'
import { SOFTHSM_MODULE, type SoftHsm, startSoftHsm } from '../helpers/softhsm.js'

async function failure(p: Promise<unknown>): Promise<FerryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(FerryError)
  return err as FerryError
}

/** The token opened in this process (SoftHSM reads SOFTHSM2_CONF at C_Initialize; vitest runs files in forks). */
describe('keys in a PKCS#11 token (SoftHSM2)', () => {
  let hsm: SoftHsm
  let pubPath: string

  beforeAll(async () => {
    hsm = await startSoftHsm({ label: 'ferry-unit', pin: 'Unit-Pin-5521' })
    process.env.SOFTHSM2_CONF = hsm.env.SOFTHSM2_CONF
    pubPath = join(hsm.dir, 'unit')
    const made = await writeTokenKeyPair({ uri: hsm.uri('object=signing;id=%0a'), prefix: pubPath })
    expect(made.key).toBe('pkcs11:token=ferry-unit;object=signing;id=%0a')
  })
  afterAll(async () => {
    await hsm?.remove()
  })

  it('signs DER ECDSA over SHA-256 that the written public key verifies, and each signature differs', async () => {
    const signer = await openSigner(hsm.uri('object=signing'))
    try {
      const pub = readPublicKey(await readFile(`${pubPath}.pub`, 'utf8'))
      expect(keyFingerprint(signer.publicKey)).toBe(keyFingerprint(pub))
      expect(signer.deterministic).toBe(false)
      const data = Buffer.from('payload')
      const a = await signer.sign(data)
      const b = await signer.sign(data)
      expect(verify('sha256', data, pub, a)).toBe(true)
      expect(verify('sha256', data, pub, b)).toBe(true)
      // The token's ECDSA is randomised: what bundle create says, and docs/signing.md.
      expect(a.equals(b)).toBe(false)
    } finally {
      await signer.close()
    }
    await expect(signer.sign(Buffer.from('x'))).rejects.toThrow('signing after close')
  })

  it('finds the pair by id alone, and by slot-id instead of the label', async () => {
    const expected = keyFingerprint(await readPublicKeyOf(`${pubPath}.pub`))
    const byId = await openSigner(hsm.uri('id=%0A'))
    await byId.close()
    expect(keyFingerprint(byId.publicKey)).toBe(expected)
    const bySlot = await openSigner(
      `pkcs11:slot-id=${hsm.slotId};object=signing?module-path=${SOFTHSM_MODULE}&pin-source=${hsm.pinFile}`,
    )
    await bySlot.close()
    expect(keyFingerprint(bySlot.publicKey)).toBe(expected)
    const otherSlot = await failure(
      readPublicKeyOf(
        `pkcs11:slot-id=${BigInt(hsm.slotId) + 1n};object=signing?module-path=${SOFTHSM_MODULE}`,
      ),
    )
    expect(otherSlot.code).toBe('NOT_FOUND')
  })

  it('reads the public half without a PIN, and takes the module from FERRY_PKCS11_MODULE', async () => {
    const key = await readPublicKeyOf(`pkcs11:token=${hsm.label};object=signing`, {
      env: { FERRY_PKCS11_MODULE: SOFTHSM_MODULE },
    })
    expect(keyFingerprint(key)).toBe(keyFingerprint(await readPublicKeyOf(`${pubPath}.pub`)))
  })

  it('a wrong PIN is one CREDENTIALS line naming the token and the CKR code, never the PIN', async () => {
    const err = await failure(
      openSigner(hsm.uri('object=signing', ''), { env: { FERRY_PKCS11_PIN: 'Wrong-Pin-0000' } }),
    )
    expect(err.code).toBe('CREDENTIALS')
    expect(err.message).toBe('PKCS#11 login to token ferry-unit failed (CKR_PIN_INCORRECT)')
    expect(redact('Wrong-Pin-0000')).toBe('[redacted]')
  })

  it('takes the PIN from pin-value with a warning, from FERRY_PKCS11_PIN, or from the prompt, in that order', async () => {
    const warnings: string[] = []
    const prompted: string[] = []
    const secrets = {
      env: { FERRY_PKCS11_PIN: 'not-this-one' },
      pin: async (token: string) => {
        prompted.push(token)
        return hsm.pin
      },
      onWarning: (w: string) => warnings.push(w),
    }
    await (await openSigner(hsm.uri('object=signing', `pin-value=${hsm.pin}`), secrets)).close()
    expect(warnings).toEqual([
      'warning: the PIN in the URI’s pin-value is visible in `ps` and in shell history; use pin-source=FILE or FERRY_PKCS11_PIN',
    ])
    await (
      await openSigner(hsm.uri('object=signing', ''), { ...secrets, env: { FERRY_PKCS11_PIN: hsm.pin } })
    ).close()
    expect(prompted).toEqual([])
    await (await openSigner(hsm.uri('object=signing', ''), { ...secrets, env: {} })).close()
    expect(prompted).toEqual(['ferry-unit'])
    const none = await failure(openSigner(hsm.uri('object=signing', ''), { env: {} }))
    expect(none.message).toBe(
      'no PIN for PKCS#11 token ferry-unit: add pin-source=FILE to the URI, or set FERRY_PKCS11_PIN',
    )
  })

  it('names what is missing: the token (with those present), the key, the module', async () => {
    const token = await failure(openSigner(hsm.uri('object=signing').replace('ferry-unit', 'other')))
    expect(token.code).toBe('NOT_FOUND')
    expect(token.message).toBe(
      `PKCS#11 token other not found in ${SOFTHSM_MODULE} (tokens present: "ferry-unit", "")`,
    )
    const key = await failure(openSigner(hsm.uri('object=nope')))
    expect(key.code).toBe('NOT_FOUND')
    expect(key.message).toBe('token ferry-unit has no private key labelled "nope"')
    const module = await failure(openSigner('pkcs11:token=T;object=k', { env: {} }))
    expect(module.message).toBe(
      'PKCS#11 URI names no module: add module-path=/path/to/module.so, or set FERRY_PKCS11_MODULE',
    )
    const relative = await failure(openSigner('pkcs11:token=T;object=k?module-path=libsofthsm2.so'))
    expect(relative.message).toBe('PKCS#11 module-path must be an absolute path, not libsofthsm2.so')
    const absent = await failure(openSigner('pkcs11:token=T;object=k?module-path=/nonexistent/p11.so'))
    expect(absent.message).toBe('PKCS#11 module /nonexistent/p11.so: no such file')
  })

  /** A key pair made outside the token by openssl, its private key and certificate imported by pkcs11-tool. */
  function importWithCertificate(label: string, id: string, certFrom = label): void {
    const file = (name: string) => join(hsm.dir, name)
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
    for (const name of new Set([label, certFrom])) {
      openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file(`${name}.pem`))
      openssl(
        'pkcs8',
        '-topk8',
        '-nocrypt',
        '-in',
        file(`${name}.pem`),
        '-outform',
        'DER',
        '-out',
        file(`${name}.p8`),
      )
      openssl(
        'req',
        '-new',
        '-x509',
        '-key',
        file(`${name}.pem`),
        '-subj',
        `/CN=${name}`,
        '-days',
        '1',
        '-outform',
        'DER',
        '-out',
        file(`${name}.crt`),
      )
    }
    const tool = (...args: string[]) =>
      execFileSync(
        'pkcs11-tool',
        [
          '--module',
          SOFTHSM_MODULE,
          '--token-label',
          hsm.label,
          '--login',
          '--pin',
          hsm.pin,
          ...args,
          '--label',
          label,
          '--id',
          id,
        ],
        { env: { ...process.env, ...hsm.env }, stdio: 'pipe' },
      )
    tool('--write-object', file(`${label}.p8`), '--type', 'privkey')
    tool('--write-object', file(`${certFrom}.crt`), '--type', 'cert')
  }

  it('takes the public half from a certificate when the token holds no public key object', async () => {
    importWithCertificate('imported', '0b')
    const signer = await openSigner(hsm.uri('object=imported'))
    try {
      const cert = new X509Certificate(await readFile(join(hsm.dir, 'imported.crt')))
      expect(keyFingerprint(signer.publicKey)).toBe(keyFingerprint(cert.publicKey))
      const data = Buffer.from('with a certificate')
      expect(verify('sha256', data, cert.publicKey, await signer.sign(data))).toBe(true)
    } finally {
      await signer.close()
    }
  })

  it('refuses to sign when the public half found beside the private key is another key’s', async () => {
    // Private key of one pair, certificate of another, under one label: every signature would fail to verify.
    importWithCertificate('mixed', '0c', 'stranger')
    const signer = await openSigner(hsm.uri('object=mixed'))
    try {
      const err = await failure(signer.sign(Buffer.from('x')))
      expect(err.code).toBe('VERIFY_FAILED')
      expect(err.message).toBe(
        "pkcs11:token=ferry-unit;object=mixed in token ferry-unit: the token's signature does not verify with the public key found beside it (two keys share the label or id?)",
      )
    } finally {
      await signer.close()
    }
  })

  it('refuses to generate a second key under a label or id already in the token, before writing the .pub', async () => {
    const err = await failure(
      writeTokenKeyPair({ uri: hsm.uri('object=other;id=%0a'), prefix: join(hsm.dir, 'second') }),
    )
    expect(err.code).toBe('CONFLICT')
    expect(err.message).toBe('token ferry-unit already holds a key with id 0a; choose another object= or id=')
    await expect(readFile(join(hsm.dir, 'second.pub'))).rejects.toMatchObject({ code: 'ENOENT' })
    const existing = await failure(writeTokenKeyPair({ uri: hsm.uri('object=third'), prefix: pubPath }))
    expect(existing.message).toBe(`${pubPath}.pub already exists; remove it or pass --force to overwrite`)
    // The check came first: no key was made in the token under that label.
    const missing = await failure(readPublicKeyOf(hsm.uri('object=third')))
    expect(missing.code).toBe('NOT_FOUND')
  })
})

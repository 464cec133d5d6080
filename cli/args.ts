import { Args, Flags } from '@oclif/core'

/** Shared argument and flag definitions, so every command describes the same thing the same way. */

/** An image read from wherever it is: any location (src/reference/location.ts). */
export const imageArg = (
  description = 'Image: REGISTRY/REPO[:TAG][@DIGEST] (https://REGISTRY/… or http://… to choose the scheme), ' +
    'oci:DIR[:TAG|@DIGEST] (oci:DIR:REPO:TAG, oci:DIR:REPO@DIGEST for a repository view), or ' +
    'bundle:FILE:IMAGE (an image in an air-gap bundle, as the bundle names it; read-only)',
) => Args.string({ required: true, description })

/** An image that is written to (signed, attached to): a registry or a layout, never a bundle. */
export const writableImageArg = () =>
  imageArg(
    'Image: REGISTRY/REPO[:TAG][@DIGEST] (https://REGISTRY/… or http://… to choose the scheme), or ' +
      'oci:DIR[:TAG|@DIGEST] (oci:DIR:REPO:TAG, oci:DIR:REPO@DIGEST for a repository view)',
  )

export const platformFlag = Flags.string({
  description: 'For an index, the child for OS/ARCH[/VARIANT] (e.g. linux/arm64).',
})

/**
 * Spread into every repeatable flag. oclif's `multiple` alone is greedy: `--platform linux/arm64 SRC DST`
 * reads SRC and DST as more platforms ("Missing 2 required args"). One value per occurrence lets flags
 * come before the arguments, as crane, skopeo and cosign users type them (`-a k=v -a k2=v2 IMAGE`).
 */
export const repeatable = { multiple: true, multipleNonGreedy: true } as const

/** For values that never contain ",": `--platform linux/amd64,linux/arm64` is two values, as in regctl and docker. */
export const repeatableList = { ...repeatable, delimiter: ',' } as const

/** `bundle import` and `pin` name internal repositories by the same rule, with the same option. */
export const stripComponentsFlag = Flags.integer({
  description: 'Drop N leading components of the source path.',
  min: 0,
  default: 0,
})

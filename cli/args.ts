import { Args, Flags } from '@oclif/core'

/** Shared argument and flag definitions, so every command describes the same thing the same way. */
export const imageArg = (description = 'Image: REGISTRY/REPO[:TAG][@DIGEST] or oci:DIR[:TAG|@DIGEST]') =>
  Args.string({ required: true, description })

export const platformFlag = Flags.string({
  description: 'For an index, the child for OS/ARCH[/VARIANT] (e.g. linux/arm64).',
})

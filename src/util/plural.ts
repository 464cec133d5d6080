/** `1 manifest`, `2 manifests`: a count with its noun; `many` for the irregular (`1 index`, `2 indexes`). */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`

/**
 * Signed JSON must mean one thing to every decoder. JSON.parse keeps the last of two equal keys;
 * Go's encoding/json (cosign, the in-toto and sigstore libraries) matches keys to struct fields
 * without regard to case and also keeps the last. So `{"critical": A, "Critical": B}` is A to ferry
 * and B to cosign: a payload could name one digest to us and another to them. Such payloads are
 * refused, in every object at every depth.
 */

/** Go's case-insensitive field match, close enough for refusing: Unicode simple folding. */
function fold(key: string): string {
  return key.toUpperCase().toLowerCase()
}

/**
 * The first duplicate or case-colliding pair of keys in one object of `text` (which must already be
 * valid JSON), as a message; undefined when every object's keys are distinct after case folding.
 */
export function keyCollision(text: string): string | undefined {
  // One frame per open object or array; objects hold the keys seen so far, folded → as written.
  const stack: Array<{ keys?: Map<string, string>; expectKey: boolean }> = []
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') {
      let end = i + 1
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1
      const top = stack[stack.length - 1]
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string
        const seen = top.keys.get(fold(key))
        if (seen !== undefined) {
          return seen === key
            ? `duplicate key ${JSON.stringify(key)}`
            : `keys ${JSON.stringify(seen)} and ${JSON.stringify(key)} that differ only in case`
        }
        top.keys.set(fold(key), key)
        top.expectKey = false
      }
      i = end
    } else if (c === '{') stack.push({ keys: new Map(), expectKey: true })
    else if (c === '[') stack.push({ expectKey: false })
    else if (c === '}' || c === ']') stack.pop()
    else if (c === ',') {
      const top = stack[stack.length - 1]
      if (top?.keys) top.expectKey = true
    }
  }
  return undefined
}

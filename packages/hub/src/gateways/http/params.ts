/** Small readers for path params and query flags shared by the routes. */

/** The SDK strips the ETag's quotes by position; tolerate a client that sends them back. */
export function lockToken(raw: string): string {
  return raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
}

/** `?reject`, `?reject=`, `?reject=true`, `?Reject`: any presence of the key counts. */
export function hasFlag(query: URLSearchParams, name: string): boolean {
  for (const key of query.keys()) if (key.toLowerCase() === name) return true;
  return false;
}

/** A query value by case-insensitive key; undefined when absent. */
export function queryValue(query: URLSearchParams, name: string): string | undefined {
  for (const [key, value] of query) if (key.toLowerCase() === name) return value;
  return undefined;
}

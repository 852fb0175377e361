/**
 * A later migration's version of a server-side function as edits of the earlier text (the earlier
 * migration stays as it was applied): each edit must match exactly once, or the module fails to
 * load, so the two texts cannot drift apart unnoticed.
 */
export function editSql(sql: string, edits: ReadonlyArray<readonly [from: string, to: string]>): string {
  return edits.reduce((text, [from, to]) => {
    const at = text.indexOf(from);
    if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`SQL edit: no single match of ${from}`);
    return text.slice(0, at) + to + text.slice(at + from.length);
  }, sql);
}

/**
 * The URL without its password, for messages and logs. A module of its own, free of the
 * PostgreSQL driver: the CLI and a SQLite hub print store URLs without loading `pg`.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

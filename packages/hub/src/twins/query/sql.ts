/**
 * A query condition compiled to a WHERE clause for each adapter: SQLite's JSON1 functions over
 * the twins table's JSON text, PostgreSQL's json operators (json, not jsonb: the text as written). Every value and every JSON path is a
 * bound parameter; the only text taken from the tree is the choice of SQL around them. The SQL
 * follows evaluate.ts exactly: a field whose type differs from the literal's compares as NULL,
 * so SQL's three-valued logic gives the same devices. Table aliases: d (devices), t (twins,
 * LEFT JOINed: NULL for a device whose twin was never written), p (device_presence, LEFT JOINed:
 * NULL for a device never seen).
 */
import type { CompareOp, Condition, Literal } from './ast.js';
import { type ColumnName, type ResolvedField, resolveField } from './fields.js';
import { NEVER_MS, timeLiteral } from './times.js';

export type Dialect = 'sqlite' | 'postgres';

export interface CompiledWhere {
  sql: string;
  params: unknown[];
}

type LiteralType = 'string' | 'number' | 'boolean' | 'null';

function literalType(v: Literal): LiteralType {
  return v === null ? 'null' : (typeof v as LiteralType);
}

/**
 * cloudToDeviceMessageCount: the device's messages not yet expired at `now` (a placeholder), as
 * GET /devices/{id} counts them. A correlated subquery (an index lookup by device_id), written
 * only into queries that name the field, so other twin reads do not pay for it.
 */
export function c2dCountSql(now: string): string {
  return `(SELECT count(*) FROM c2d_messages m WHERE m.device_id = d.device_id AND m.expiry > ${now})`;
}

const COLUMN_SQL = {
  deviceId: 'd.device_id',
  status: 'd.status',
  statusReason: 'd.status_reason',
  authenticationType: 'd.auth_type',
  // p.connected is a boolean on PostgreSQL, 0/1 on SQLite: both are true or false in a CASE.
  connectionState: "(CASE WHEN p.connected THEN 'Connected' ELSE 'Disconnected' END)",
} as const;

class Compiler {
  readonly params: unknown[] = [];
  constructor(
    private readonly dialect: Dialect,
    private readonly now: number,
  ) {}

  private param(v: unknown, pgType: string): string {
    this.params.push(v);
    return this.dialect === 'sqlite' ? '?' : `$${this.params.length}::${pgType}`;
  }

  private get unknown(): string {
    return this.dialect === 'sqlite' ? 'NULL' : 'NULL::boolean';
  }

  condition(c: Condition): string {
    switch (c.kind) {
      case 'and':
        return `(${this.condition(c.left)} AND ${this.condition(c.right)})`;
      case 'or':
        return `(${this.condition(c.left)} OR ${this.condition(c.right)})`;
      case 'not':
        return `(NOT ${this.condition(c.operand)})`;
      case 'compare':
        return this.compare(resolveField(c.field), c.op, c.value);
      case 'in': {
        if (c.values.length === 0) return this.dialect === 'sqlite' ? '0' : 'false';
        const f = resolveField(c.field);
        return `(${c.values.map((v) => this.compare(f, '=', v)).join(' OR ')})`;
      }
      case 'defined': {
        const f = resolveField(c.field);
        if (f.kind === 'column') return this.dialect === 'sqlite' ? '1' : 'true';
        return this.dialect === 'sqlite'
          ? `(json_type(t.${f.section}, ${this.jsonPath(f.path)}) IS NOT NULL)`
          : `((t.${f.section} #> ${this.jsonPath(f.path)}) IS NOT NULL)`;
      }
    }
  }

  private jsonPath(path: string[]): string {
    if (this.dialect === 'sqlite') return this.param(`$${path.map((n) => `."${n}"`).join('')}`, 'text');
    return this.param(path, 'text[]');
  }

  /** `field op literal`, NULL when the field cannot hold the literal's type. */
  private compare(f: ResolvedField, op: CompareOp, value: Literal): string {
    const type = literalType(value);
    const ordered = op !== '=' && op !== '!=';
    if (ordered && (type === 'boolean' || type === 'null')) return this.unknown;
    const sqlOp = op === '!=' ? '<>' : op;
    if (f.kind === 'column' && f.name === 'lastActivityTime') return this.activity(sqlOp, value);
    const typed = f.kind === 'column' ? this.column(f.name, type) : this.json(f.section, f.path, type);
    if (typed === undefined) return this.unknown;
    const rhs =
      type === 'string'
        ? this.param(value, 'text')
        : type === 'number'
          ? this.param(value, 'numeric')
          : type === 'boolean'
            ? this.param(String(value), 'text')
            : this.param('null', 'text');
    return `(${typed} ${sqlOp} ${rhs})`;
  }

  /** lastActivityTime compared as an instant (times.ts): ms since the epoch, never active at NEVER_MS. */
  private activity(sqlOp: string, value: Literal): string {
    const t = timeLiteral(value);
    if (t === undefined) return this.unknown;
    return `(COALESCE(p.activity_at, ${NEVER_MS}) ${sqlOp} ${this.param(t, 'bigint')})`;
  }

  /** A registry column as a value of the literal's type, or undefined when it never is one. */
  private column(name: ColumnName, type: LiteralType): string | undefined {
    const collate = this.dialect === 'postgres' ? ' COLLATE "C"' : '';
    if (name === 'version') return type === 'number' ? 'COALESCE(t.version, 1)' : undefined;
    if (name === 'cloudToDeviceMessageCount') {
      return type === 'number' ? c2dCountSql(this.param(this.now, 'bigint')) : undefined;
    }
    // Compared as a time in compare(); never reaches here.
    if (name === 'lastActivityTime') return undefined;
    const col = COLUMN_SQL[name];
    if (type === 'string') return `${col}${collate}`;
    if (type === 'null' && name === 'statusReason') return `(CASE WHEN ${col} IS NULL THEN 'null' END)`;
    return undefined;
  }

  private json(section: string, path: string[], type: LiteralType): string {
    const col = `t.${section}`;
    if (this.dialect === 'sqlite') {
      // Positional '?': each use of the path is a parameter of its own.
      const kind = `json_type(${col}, ${this.jsonPath(path)})`;
      switch (type) {
        case 'string':
          return `(CASE WHEN ${kind} = 'text' THEN json_extract(${col}, ${this.jsonPath(path)}) END)`;
        case 'number':
          return `(CASE WHEN ${kind} IN ('integer', 'real') THEN json_extract(${col}, ${this.jsonPath(path)}) END)`;
        case 'boolean':
          return `(CASE WHEN ${kind} IN ('true', 'false') THEN json_type(${col}, ${this.jsonPath(path)}) END)`;
        case 'null':
          return `(CASE WHEN ${kind} = 'null' THEN 'null' END)`;
      }
    }
    const p = this.jsonPath(path);
    const typeIs = (t: string) => `json_typeof(${col} #> ${p}) = '${t}'`;
    switch (type) {
      case 'string':
        return `(CASE WHEN ${typeIs('string')} THEN ${col} #>> ${p} END) COLLATE "C"`;
      case 'number':
        return `(CASE WHEN ${typeIs('number')} THEN (${col} #>> ${p})::numeric END)`;
      case 'boolean':
        return `(CASE WHEN ${typeIs('boolean')} THEN ${col} #>> ${p} END)`;
      case 'null':
        return `(CASE WHEN ${typeIs('null')} THEN 'null' END)`;
    }
  }
}

/**
 * The WHERE clause (without the keyword) and its parameters, in order. `now` (ms since the epoch)
 * decides which C2D messages have expired, for cloudToDeviceMessageCount.
 */
export function compileWhere(where: Condition, dialect: Dialect, now: number): CompiledWhere {
  const c = new Compiler(dialect, now);
  const sql = c.condition(where);
  return { sql, params: c.params };
}

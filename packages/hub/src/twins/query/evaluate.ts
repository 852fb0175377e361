/**
 * The query language run in memory, over one device and its twin: the reference the SQL of each
 * adapter is tested against, and how projections and GROUP BY read their fields. Three-valued
 * logic as in SQL: a missing field, or a comparison between values of different types, is
 * undefined; NOT undefined is undefined; AND and OR follow Kleene's tables; only true selects.
 */
import type { JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';
import { activityTimeJson } from '../twin-json.js';
import type { TwinEntry } from '../types.js';
import type { CompareOp, Condition, FieldRef, Literal } from './ast.js';
import { resolveField } from './fields.js';
import { activityMs, timeLiteral } from './times.js';

type Truth = boolean | undefined;

/** The field's value in the entry; undefined when it is not there. */
export function fieldValue(entry: TwinEntry, field: FieldRef): JsonValue | undefined {
  const f = resolveField(field);
  if (f.kind === 'column') {
    const d = entry.device;
    switch (f.name) {
      case 'deviceId':
        return d.deviceId;
      case 'status':
        return d.status;
      case 'statusReason':
        return d.statusReason;
      case 'authenticationType':
        return d.authType;
      case 'version':
        return entry.twin?.version ?? 1;
      case 'connectionState':
        return entry.connected ? 'Connected' : 'Disconnected';
      case 'lastActivityTime':
        return activityTimeJson(entry.lastActivityAt);
      case 'cloudToDeviceMessageCount':
        // A programming error, not the caller's: the page query did not ask for the counts.
        if (entry.c2dCount === undefined) throw new Error('cloudToDeviceMessageCount was not read (withC2dCount)');
        return entry.c2dCount;
    }
  }
  const twin = entry.twin;
  let v: JsonValue | undefined =
    f.section === 'tags' ? twin?.tags : f.section === 'desired' ? twin?.desired.values : twin?.reported.values;
  for (const name of f.path) {
    if (!isJsonObject(v)) return undefined;
    v = Object.hasOwn(v, name) ? v[name] : undefined;
  }
  return v;
}

function typeOf(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export function compare(value: JsonValue | undefined, op: CompareOp, literal: Literal): Truth {
  if (value === undefined) return undefined;
  const type = typeOf(value);
  if (type !== typeOf(literal)) return undefined;
  if (type !== 'string' && type !== 'number') {
    if (op === '=') return value === literal;
    if (op === '!=') return value !== literal;
    return undefined;
  }
  const a = value as string | number;
  const b = literal as string | number;
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

/** A twin's field against a literal: lastActivityTime compares as a time (times.ts), the rest by value. */
function compareField(entry: TwinEntry, field: FieldRef, op: CompareOp, literal: Literal): Truth {
  const f = resolveField(field);
  if (f.kind === 'column' && f.name === 'lastActivityTime') {
    const t = timeLiteral(literal);
    return t === undefined ? undefined : compare(activityMs(entry.lastActivityAt), op, t);
  }
  return compare(fieldValue(entry, field), op, literal);
}

export function evaluate(c: Condition, entry: TwinEntry): Truth {
  return evaluateBy(c, entry, fieldValue, compareField);
}

/** The same logic over any item whose fields `lookup` reads (devices.jobs rows), compared by value. */
export function evaluateWith<T>(
  c: Condition,
  entry: T,
  lookup: (item: T, field: FieldRef) => JsonValue | undefined,
): Truth {
  return evaluateBy(c, entry, lookup, (item, field, op, literal) => compare(lookup(item, field), op, literal));
}

function evaluateBy<T>(
  c: Condition,
  entry: T,
  fieldValue: (item: T, field: FieldRef) => JsonValue | undefined,
  compareField: (item: T, field: FieldRef, op: CompareOp, literal: Literal) => Truth,
): Truth {
  const evaluate = (x: Condition, item: T) => evaluateBy(x, item, fieldValue, compareField);
  switch (c.kind) {
    case 'and': {
      const l = evaluate(c.left, entry);
      if (l === false) return false;
      const r = evaluate(c.right, entry);
      if (r === false) return false;
      return l === true && r === true ? true : undefined;
    }
    case 'or': {
      const l = evaluate(c.left, entry);
      if (l === true) return true;
      const r = evaluate(c.right, entry);
      if (r === true) return true;
      return l === false && r === false ? false : undefined;
    }
    case 'not': {
      const v = evaluate(c.operand, entry);
      return v === undefined ? undefined : !v;
    }
    case 'compare':
      return compareField(entry, c.field, c.op, c.value);
    case 'in': {
      let result: Truth = false;
      for (const literal of c.values) {
        const eq = compareField(entry, c.field, '=', literal);
        if (eq === true) return true;
        if (eq === undefined) result = undefined;
      }
      return result;
    }
    case 'defined':
      return fieldValue(entry, c.field) !== undefined;
  }
}

/** True when the entry is selected by the condition (null: every entry). */
export function matches(where: Condition | null, entry: TwinEntry): boolean {
  return where === null || evaluate(where, entry) === true;
}

/**
 * Query text to a checked Query: the generated parser (grammar.peggy) builds the tree, then every
 * field is resolved. Syntax errors and unknown fields are ArgumentInvalid with their position.
 */
import { FerryError } from '@ferry/common';
import type { Condition, Query } from './ast.js';
import { resolveField } from './fields.js';
import { SyntaxError as PegSyntaxError, parse as pegParse } from './parser.generated.js';

export const MAX_QUERY_LENGTH = 8 * 1024;

interface PegError {
  message: string;
  location: { start: { line: number; column: number; offset: number } };
}

export function parseQuery(text: string): Query {
  if (typeof text !== 'string' || text.trim() === '') throw new FerryError('ArgumentInvalid', 'the query is empty');
  if (text.length > MAX_QUERY_LENGTH) {
    throw new FerryError('ArgumentInvalid', `the query is longer than ${MAX_QUERY_LENGTH} characters`);
  }
  let query: Query;
  try {
    query = pegParse(text, {}) as Query;
  } catch (err) {
    if (!(err instanceof PegSyntaxError)) throw err;
    const e = err as unknown as PegError;
    const { line, column } = e.location.start;
    throw new FerryError('ArgumentInvalid', `Syntax error at line ${line}, position ${column}: ${e.message}`, {
      cause: err,
    });
  }
  // devices.jobs fields are the jobs domain's to resolve.
  if (query.source === 'devices.jobs') return query;
  if (query.where) checkCondition(query.where);
  for (const f of query.groupBy) resolveField(f);
  for (const item of query.select ?? []) if (item.kind === 'field') resolveField(item.field);
  const aggregated = query.select?.some((i) => i.kind === 'count') ?? false;
  if (query.groupBy.length > 0 && !aggregated) {
    throw new FerryError('ArgumentInvalid', 'GROUP BY needs COUNT() in the SELECT list');
  }
  return query;
}

function checkCondition(c: Condition): void {
  switch (c.kind) {
    case 'and':
    case 'or':
      checkCondition(c.left);
      checkCondition(c.right);
      return;
    case 'not':
      checkCondition(c.operand);
      return;
    default:
      resolveField(c.field);
  }
}

/**
 * The query language's syntax tree: what grammar.peggy builds, what sql.ts compiles per adapter
 * and what evaluate.ts runs in memory. A field is a path of names from the twin's root
 * (['tags', 'site'], ['properties', 'reported', 'fw', 'version'], ['deviceId']).
 */

export type Literal = string | number | boolean | null;
export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** Where a field or an error is in the query text (1-based, as IoT Hub reports positions). */
export interface Position {
  offset: number;
  line: number;
  column: number;
}

export interface FieldRef {
  path: string[];
  at: Position;
}

export type Condition =
  | { kind: 'and'; left: Condition; right: Condition }
  | { kind: 'or'; left: Condition; right: Condition }
  | { kind: 'not'; operand: Condition }
  | { kind: 'compare'; op: CompareOp; field: FieldRef; value: Literal }
  | { kind: 'in'; field: FieldRef; values: Literal[] }
  | { kind: 'defined'; field: FieldRef };

export type SelectItem =
  | { kind: 'count'; alias: string | null }
  | { kind: 'field'; field: FieldRef; alias: string | null };

export interface Query {
  /** devices: twins; devices.jobs: the devices' job results (jobs/device-query.ts resolves its fields). */
  source: 'devices' | 'devices.jobs';
  /** null: SELECT * */
  select: SelectItem[] | null;
  where: Condition | null;
  groupBy: FieldRef[];
}

/** What a field path names: a value inside a twin section, or one of the registry's scalars. */
import { FerryError } from '@ferry/common';
import type { FieldRef } from './ast.js';

export type SectionName = 'tags' | 'desired' | 'reported';
export type ColumnName =
  | 'deviceId'
  | 'status'
  | 'statusReason'
  | 'authenticationType'
  | 'version'
  | 'connectionState'
  | 'lastActivityTime'
  | 'cloudToDeviceMessageCount';

export type ResolvedField =
  | { kind: 'json'; section: SectionName; path: string[] }
  | { kind: 'column'; name: ColumnName };

const COLUMNS: ReadonlySet<string> = new Set<ColumnName>([
  'deviceId',
  'status',
  'statusReason',
  'authenticationType',
  'version',
  'connectionState',
  'lastActivityTime',
  'cloudToDeviceMessageCount',
]);

/** The device's, not its twin's: IoT Hub's twins do not carry it, so no query can read it. */
const NOT_QUERYABLE: ReadonlySet<string> = new Set(['connectionStateUpdatedTime']);

export function fieldError(field: FieldRef, text: string): FerryError {
  const { line, column } = field.at;
  return new FerryError('ArgumentInvalid', `${text} (line ${line}, position ${column})`);
}

export function resolveField(field: FieldRef): ResolvedField {
  const [root, ...rest] = field.path;
  const name = field.path.join('.');
  if (root === 'tags') {
    if (rest.length === 0) throw fieldError(field, 'tags must be followed by a property name');
    return { kind: 'json', section: 'tags', path: rest };
  }
  if (root === 'properties') {
    const [section, ...path] = rest;
    if ((section === 'desired' || section === 'reported') && path.length > 0) {
      return { kind: 'json', section, path };
    }
    throw fieldError(field, `${name} is not a property: use properties.desired.NAME or properties.reported.NAME`);
  }
  if (rest.length === 0 && root !== undefined && COLUMNS.has(root)) return { kind: 'column', name: root as ColumnName };
  if (root !== undefined && NOT_QUERYABLE.has(root)) {
    throw fieldError(
      field,
      `${root} is not in a twin, so a query cannot read it: query connectionState or lastActivityTime instead`,
    );
  }
  throw fieldError(
    field,
    `unknown field ${name}; Ferry queries tags.*, properties.desired.*, properties.reported.*, ${[...COLUMNS].join(', ')}`,
  );
}

/**
 * IoT Hub's rules for twin documents (iot-hub-devguide-device-twins, "Tags and properties format"
 * and "Twin size"), enforced on every write whatever the wire: objects only at the top, property
 * names of at most 1 KB without control characters, '.', '$' or space, depth at most 10, string
 * values of at most 4 KB, and sizes of 8 KB (tags) and 32 KB (desired, reported) as IoT Hub counts
 * them. Violations are ArgumentInvalid (400004), as IoT Hub answers a body it cannot validate.
 */
import { FerryError } from '@ferry/common';
import { isJsonObject, type JsonObject, type JsonValue } from './json.js';

export const LIMITS = Object.freeze({
  tagsBytes: 8 * 1024,
  desiredBytes: 32 * 1024,
  reportedBytes: 32 * 1024,
  /** Nested objects below a section's root. */
  depth: 10,
  nameBytes: 1024,
  stringBytes: 4 * 1024,
});

export type SectionName = 'tags' | 'desired' | 'reported';

/** C0 and C1 control characters, '.', '$' and space. */
function badNameChar(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2e || c === 0x24) return true;
  }
  return false;
}

function invalid(text: string): FerryError {
  return new FerryError('ArgumentInvalid', text);
}

/**
 * Checks a patch (or a whole section) before it is applied: a JSON object whose names and values
 * are allowed; null values are deletions (allowed in a patch only).
 */
export function checkPatch(section: SectionName, patch: unknown, allowNull: boolean): JsonObject {
  if (!isJsonObject(patch)) throw invalid(`${section} must be a JSON object`);
  checkObject(section, patch, 1, allowNull);
  return patch;
}

function checkObject(path: string, obj: JsonObject, depth: number, allowNull: boolean): void {
  for (const [name, value] of Object.entries(obj)) {
    checkName(path, name);
    const where = `${path}.${name}`;
    checkValue(where, value, depth, allowNull);
  }
}

function checkValue(where: string, value: JsonValue, depth: number, allowNull: boolean): void {
  if (value === null) {
    if (!allowNull) throw invalid(`${where} is null; null deletes a property in a patch and is not a value`);
  } else if (Array.isArray(value)) {
    for (const item of value) {
      if (item === null) throw invalid(`${where} holds null in an array`);
      checkValue(`${where}[]`, item, depth, false);
    }
  } else if (typeof value === 'object') {
    if (depth > LIMITS.depth) throw invalid(`${where} is nested deeper than ${LIMITS.depth} levels`);
    checkObject(where, value, depth + 1, allowNull);
  } else if (typeof value === 'string') {
    if (Buffer.byteLength(value) > LIMITS.stringBytes) {
      throw invalid(`${where} is a string longer than ${LIMITS.stringBytes} bytes`);
    }
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(`${where} is not a finite number`);
  }
}

function checkName(path: string, name: string): void {
  if (name === '') throw invalid(`${path} has an empty property name`);
  if (badNameChar(name)) {
    throw invalid(
      `${path} has the property name "${name.slice(0, 64)}", with a character IoT Hub does not allow ` +
        `(control characters, '.', '$' and space)`,
    );
  }
  if (Buffer.byteLength(name) > LIMITS.nameBytes) {
    throw invalid(`${path} has a property name longer than ${LIMITS.nameBytes} bytes`);
  }
}

/**
 * A section's size as IoT Hub counts it: each name's UTF-8 length plus its value's (strings their
 * UTF-8 length, numbers 8, booleans 4, objects and arrays the sum of what they hold).
 */
export function sectionSize(obj: JsonObject): number {
  let size = 0;
  for (const [name, value] of Object.entries(obj)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(v: JsonValue): number {
  if (v === null) return 0;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number') return 8;
  if (typeof v === 'boolean') return 4;
  if (Array.isArray(v)) return v.reduce<number>((n, x) => n + valueSize(x), 0);
  return sectionSize(v);
}

/** Refuses a section that has grown past its limit (checked on the result of a write). */
export function checkSize(section: SectionName, obj: JsonObject): void {
  const limit =
    section === 'tags' ? LIMITS.tagsBytes : section === 'desired' ? LIMITS.desiredBytes : LIMITS.reportedBytes;
  const size = sectionSize(obj);
  if (size > limit) {
    throw invalid(`${section} would be ${size} bytes, over IoT Hub's limit of ${limit} bytes`);
  }
}

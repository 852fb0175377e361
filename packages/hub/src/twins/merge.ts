/**
 * How a patch changes a twin section (JSON merge: objects merge, null deletes, anything else
 * replaces) and its metadata: every node the patch touches gets the update's time (and, on
 * desired, the section's new version); the root's metadata always does.
 */
import { cloneJson, isJsonObject, type JsonObject, type JsonValue } from './json.js';
import type { MetaNode, TwinSection } from './types.js';

/** The section after `patch`, a new object (the input is not changed). */
export function patchSection(section: TwinSection, patch: JsonObject, at: string, versioned: boolean): TwinSection {
  const version = section.version + 1;
  const stamp = (): MetaNode => (versioned ? { $lastUpdated: at, $lastUpdatedVersion: version } : { $lastUpdated: at });
  const values = cloneJson(section.values);
  const meta = cloneJson(section.meta as unknown as JsonObject) as unknown as MetaNode;
  mergeInto(values, meta, patch, stamp);
  Object.assign(meta, stamp());
  return { values, meta, version };
}

/** The section replaced by `values` (every property stamped now). */
export function replaceSection(section: TwinSection, values: JsonObject, at: string, versioned: boolean): TwinSection {
  const version = section.version + 1;
  const stamp = (): MetaNode => (versioned ? { $lastUpdated: at, $lastUpdatedVersion: version } : { $lastUpdated: at });
  const meta = stamp();
  const copy = cloneJson(values);
  stampAll(copy, meta, stamp);
  return { values: copy, meta, version };
}

/** A fresh, empty section (a twin nothing was written to): version 1, as IoT Hub starts them. */
export function emptySection(at: string, versioned: boolean): TwinSection {
  return {
    values: {},
    meta: versioned ? { $lastUpdated: at, $lastUpdatedVersion: 1 } : { $lastUpdated: at },
    version: 1,
  };
}

/** Merges a patch into plain values (tags: no metadata). */
export function mergeValues(target: JsonObject, patch: JsonObject): JsonObject {
  const copy = cloneJson(target);
  mergeInto(copy, undefined, patch, () => ({ $lastUpdated: '' }));
  return copy;
}

function mergeInto(target: JsonObject, meta: MetaNode | undefined, patch: JsonObject, stamp: () => MetaNode): void {
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[name];
      if (meta) delete meta[name];
      continue;
    }
    if (isJsonObject(value)) {
      const existing = target[name];
      const child: JsonObject = isJsonObject(existing) ? existing : {};
      target[name] = child;
      let childMeta: MetaNode | undefined;
      if (meta) {
        const old = meta[name];
        childMeta = isJsonObject(existing) && typeof old === 'object' ? old : stamp();
        Object.assign(childMeta, stamp());
        meta[name] = childMeta;
      }
      mergeInto(child, childMeta, value, stamp);
      continue;
    }
    target[name] = cloneJson(value as JsonValue);
    if (meta) meta[name] = stamp();
  }
}

function stampAll(values: JsonObject, meta: MetaNode, stamp: () => MetaNode): void {
  for (const [name, value] of Object.entries(values)) {
    const child = stamp();
    meta[name] = child;
    if (isJsonObject(value)) stampAll(value, child, stamp);
  }
}

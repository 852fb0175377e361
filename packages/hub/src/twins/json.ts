/** JSON values as twin documents hold them (what JSON.parse gives, no undefined). */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A deep copy of a JSON value (twin sections are never shared between callers). */
export function cloneJson<T extends JsonValue>(v: T): T {
  return structuredClone(v);
}

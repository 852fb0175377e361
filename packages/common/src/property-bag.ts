/** The MQTT C2D topic property bag (official-sdk-wire.md section A). */

/** [key, value] pairs; a null value is written as the key alone. */
export type PropertyBag = ReadonlyArray<readonly [string, string | null]>;

/** encodeURIComponent each key and value (so `/ & = +`, spaces and non-ASCII are percent-encoded), join with & and =. */
export declare function encodePropertyBag(bag: PropertyBag): string;
/** The inverse; tolerant of an optional leading `?`. Throws FerryError ArgumentInvalid on bad percent-encoding. */
export declare function decodePropertyBag(text: string): Array<[string, string | null]>;

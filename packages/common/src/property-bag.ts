/** The MQTT C2D topic property bag (official-sdk-wire.md section A). */
import { FerryError } from './errors.js';

/** [key, value] pairs; a null value is written as the key alone. */
export type PropertyBag = ReadonlyArray<readonly [string, string | null]>;

/** encodeURIComponent of one key or value; FerryError ArgumentInvalid naming `what` for bad Unicode. */
export function encodeBagComponent(what: string, s: string): string {
  try {
    return encodeURIComponent(s);
  } catch (cause) {
    // Only a lone UTF-16 surrogate can get here.
    throw new FerryError(
      'ArgumentInvalid',
      `Property ${what} is not valid Unicode: ${JSON.stringify(s.slice(0, 40))}`,
      {
        cause,
      },
    );
  }
}

function decode(what: string, s: string): string {
  try {
    return decodeURIComponent(s);
  } catch (cause) {
    throw new FerryError(
      'ArgumentInvalid',
      `Property ${what} has bad percent-encoding: ${JSON.stringify(s.slice(0, 40))}`,
      {
        cause,
      },
    );
  }
}

/** encodeURIComponent each key and value (so `/ & = +`, spaces and non-ASCII are percent-encoded), join with & and =. */
export function encodePropertyBag(bag: PropertyBag): string {
  // The official client cuts the bag at '/', '&' and '=' before decoding, and decodes '+' as
  // '+': encodeURIComponent escapes all of those, so any key or value survives.
  return bag
    .map(([key, value]) => {
      if (key === '') throw new FerryError('ArgumentInvalid', 'Property name is empty');
      const k = encodeBagComponent('name', key);
      return value === null ? k : `${k}=${encodeBagComponent(`${JSON.stringify(key)} value`, value)}`;
    })
    .join('&');
}

/** The inverse; tolerant of an optional leading `?`. Throws FerryError ArgumentInvalid on bad percent-encoding. */
export function decodePropertyBag(text: string): Array<[string, string | null]> {
  const body = text.startsWith('?') ? text.slice(1) : text;
  const out: Array<[string, string | null]> = [];
  for (const pair of body.split('&')) {
    if (pair === '') continue; // `a=1&&b=2` or a trailing '&'
    const eq = pair.indexOf('=');
    const key = decode('name', eq < 0 ? pair : pair.slice(0, eq));
    if (key === '') throw new FerryError('ArgumentInvalid', `Property name is empty in "${pair.slice(0, 40)}"`);
    out.push([key, eq < 0 ? null : decode(`${JSON.stringify(key)} value`, pair.slice(eq + 1))]);
  }
  return out;
}

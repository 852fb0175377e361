/** A twin request's failure as the FerryError its answer carries (anything unexpected is ServerError). */
import { FerryError } from '@ferry/common';

export function twinError(err: unknown): FerryError {
  return err instanceof FerryError ? err : new FerryError('ServerError', 'the twin request failed', { cause: err });
}

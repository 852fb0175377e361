import { FerryError } from '@ferry/common';

/** An invalid configuration value or an unknown option; `key` is the dotted option path. */
export class ConfigError extends FerryError {
  readonly key: string;

  constructor(key: string, message: string) {
    super('ArgumentInvalid', message);
    this.name = 'ConfigError';
    this.key = key;
  }
}

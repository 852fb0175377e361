/** Reading a JSON config file, with errors that name the file. */
import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.js';

export function readConfigFile(path: string): object {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      'config',
      `cannot read config file ${path}: ${code === 'ENOENT' ? 'no such file' : String(err)}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('config', `config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('config', `config file ${path} must hold a JSON object`);
  }
  return parsed;
}

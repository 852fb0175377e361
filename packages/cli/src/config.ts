/** The hub configuration as the CLI sees it: config file < FERRY_* environment < flags. */
import { type HubConfig, parseConfig, readConfigFile } from '@ferry/hub';
import type { Parsed } from './args.js';
import { str } from './args.js';

export function loadConfig(values: Parsed['values'], env: NodeJS.ProcessEnv, flags: object): Readonly<HubConfig> {
  const fileName = str(values.config);
  return parseConfig({
    file: fileName === undefined ? undefined : readConfigFile(fileName),
    fileName,
    env,
    flags,
  });
}

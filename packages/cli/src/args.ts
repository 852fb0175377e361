/** parseArgs (strict) with messages that name the bad flag and suggest the right one. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { suggestClosest } from '@ferry/common';
import { CliError } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parse(args: string[], options: Options, usage: string, maxPositionals: number): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }) as Parsed;
  } catch (err) {
    const code = (err as { code?: string }).code;
    let text = (err as Error).message;
    const unknown = /Unknown option '(--?[^']+)'/.exec(text)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      const guess = suggestClosest(unknown.replace(/^-+/, ''), Object.keys(options));
      text = `unknown option ${unknown}${guess ? ` — did you mean --${guess}?` : ''}`;
    }
    throw usageError(text, usage);
  }
  if (parsed.values.help) throw new HelpRequested(usage);
  if (parsed.positionals.length > maxPositionals) {
    throw usageError(`unexpected argument ${parsed.positionals[maxPositionals]}`, usage);
  }
  return parsed;
}

/** The command a usage text is about: `ferry hub start`, `ferry message`, `ferry device`. */
function commandOf(usage: string): string {
  const words = /^Usage: (ferry(?: [a-z-]+)*)/.exec(usage)?.[1]?.split(' ') ?? ['ferry'];
  return words.slice(0, words[1] === 'hub' ? 3 : 2).join(' ');
}

/** One line, then where the usage is: the whole usage text buried the mistake (issue #12). */
export function usageError(text: string, usage: string): CliError {
  return new CliError(`${text} (run \`${commandOf(usage)} --help\` for usage)`, 2);
}

/** --help: the usage goes to stdout and the exit code is 0. */
export class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super('help');
  }
}

export function str(v: Parsed['values'][string]): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A numeric flag as a number when it looks like one; otherwise as given, so config validation explains it. */
export function num(v: Parsed['values'][string]): number | string | undefined {
  const s = str(v);
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : s;
}

/**
 * `ferry device import <file.jsonl>`: many devices through the bulk registry API (POST /devices,
 * 100 a call), with a progress bar on a terminal (a line per tenth otherwise). Every line is
 * checked before anything is sent; devices the hub refuses are listed at the end.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { BulkError } from '@ferry/hub';
import { parse, str } from '../args.js';
import { bulkDevices } from '../certificates-client.js';
import { CliError, type Io, processIo } from '../io.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { X509_USAGE } from './x509-usage.js';

const USAGE = X509_USAGE['device import'];
export const IMPORT_BATCH = 100;
const MODES = ['create', 'createOrUpdate', 'update', 'updateIfMatchETag', 'delete', 'deleteIfMatchETag'];
/** Failures listed one by one; the rest are counted. */
const LISTED_FAILURES = 20;

/** The entries of a JSON-lines file as ExportImportDevice objects; a bad line stops everything. */
export function readImportFile(text: string, mode: string): Array<Record<string, unknown>> {
  const entries: Array<Record<string, unknown>> = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new CliError(`line ${i + 1}: not JSON (${(err as Error).message})`, 2);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new CliError(`line ${i + 1}: a device must be a JSON object`, 2);
    }
    const { deviceId, ...rest } = value as Record<string, unknown>;
    const id = rest.id ?? deviceId;
    if (typeof id !== 'string' || id === '') throw new CliError(`line ${i + 1}: no "deviceId" (or "id")`, 2);
    entries.push({ ...rest, id, importMode: rest.importMode ?? mode });
  });
  return entries;
}

/** `[#########...........]  4200/10000` on one terminal line. */
function progressLine(done: number, total: number, failed: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  return `[${bar}] ${done}/${total} devices${failed ? `, ${failed} failed` : ''}`;
}

export async function deviceImport(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...TARGET_OPTIONS, mode: { type: 'string' } }, USAGE, 1);
  const file = positionals[0];
  if (!file) throw new CliError(`ferry device import needs a JSON-lines file\n\n${USAGE}`, 2);
  const mode = str(values.mode) ?? 'create';
  if (!MODES.includes(mode)) throw new CliError(`--mode must be one of ${MODES.join(', ')}, got "${mode}"`, 2);
  if (!existsSync(file)) throw new CliError(`${file}: no such file`);
  const entries = readImportFile(readFileSync(file, 'utf8'), mode);
  if (entries.length === 0) {
    io.out(`${file} holds no devices.`);
    return 0;
  }
  const target = await resolveTarget(values, io);

  // A bar redrawn in place only on a real terminal; tests and logs get whole lines.
  const terminal = io === processIo && process.stderr.isTTY === true;
  const show = (done: number, failed: number) => {
    const line = progressLine(done, entries.length, failed);
    if (terminal) process.stderr.write(`\r${line}`);
    else io.err(line);
  };
  const errors: BulkError[] = [];
  let reportedTenth = -1;
  for (let at = 0; at < entries.length; at += IMPORT_BATCH) {
    const batch = entries.slice(at, at + IMPORT_BATCH);
    const result = await bulkDevices(target, batch);
    errors.push(...result.errors);
    const done = at + batch.length;
    // On a terminal the bar moves every call; in a log, a line per tenth is enough.
    const tenth = Math.floor((done / entries.length) * 10);
    if (terminal || tenth !== reportedTenth || done === entries.length) {
      reportedTenth = tenth;
      show(done, errors.length);
    }
  }
  if (terminal) process.stderr.write('\n');

  io.out(
    `${entries.length - errors.length} of ${entries.length} devices imported (${mode} unless a line says otherwise).`,
  );
  if (errors.length === 0) return 0;
  io.out(`${errors.length} failed:`);
  for (const e of errors.slice(0, LISTED_FAILURES)) io.out(`  ${e.deviceId}: ${e.errorCode}: ${e.errorStatus}`);
  if (errors.length > LISTED_FAILURES) io.out(`  ... and ${errors.length - LISTED_FAILURES} more`);
  return 1;
}

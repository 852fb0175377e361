/** The campaign's one table (markdown, so it can go into docs as printed) and its verdict. */

import type { CanaryCounts } from './canary.js';
import type { FuzzCounts } from './fuzz.js';
import type { HostileCounts } from './hostile.js';
import type { HubHealth } from './hub.js';
import type { KillResult } from './kill-rounds.js';

const COLUMNS = [
  'part',
  'inputs',
  'acknowledged',
  'refused',
  'delivered',
  'lost',
  'duplicated',
  'refused but stored',
  'hub exits',
  'hangs',
  'past deadline',
  'missed',
  'RSS MiB start / peak / end',
  'RSS end ÷ start',
] as const;
type Row = Partial<Record<(typeof COLUMNS)[number], string | number>>;

export interface CampaignResult {
  kill?: KillResult;
  fuzz?: Map<string, FuzzCounts>;
  hostile?: Map<string, HostileCounts>;
  canary?: CanaryCounts;
  /** The hub the fuzzer and the hostile clients shared. */
  shared?: HubHealth;
}

const mib = (n: number) => (n / 2 ** 20).toFixed(0);

export function rows(r: CampaignResult): Row[] {
  const out: Row[] = [];
  if (r.kill) {
    const k = r.kill;
    out.push({
      part: `kill -9 rounds (${k.rounds}), AMQP + HTTPS sends`,
      inputs: k.sent,
      acknowledged: k.acknowledged,
      refused: k.refused,
      delivered: k.delivered,
      lost: k.lost + k.undrained,
      duplicated: k.duplicated,
      'refused but stored': k.refusedButStored + k.redeliveredAfterComplete,
      'hub exits': k.exits,
      hangs: k.hangs,
    });
  }
  for (const [protocol, c] of r.fuzz ?? []) out.push({ part: `fuzz ${protocol}`, inputs: c.inputs });
  for (const [kind, c] of r.hostile ?? []) {
    // Refused: connections the kernel dropped from an overflowing accept queue (the hub never held them).
    out.push({ part: `hostile: ${kind}`, inputs: c.sockets, refused: c.notAccepted, 'past deadline': c.pastDeadline });
  }
  if (r.canary) {
    out.push({
      part: 'official client (MQTT) during fuzz + hostile',
      inputs: r.canary.sent,
      acknowledged: r.canary.sent,
      delivered: r.canary.received,
      missed: r.canary.missed,
    });
  }
  if (r.shared) {
    const h = r.shared;
    out.push({
      part: 'hub under fuzz + hostile',
      'hub exits': h.exits,
      hangs: h.hangs,
      'RSS MiB start / peak / end': `${mib(h.rssStart)} / ${mib(h.rssPeak)} / ${mib(h.rssEnd)}`,
      'RSS end ÷ start': h.rssStart > 0 ? (h.rssEnd / h.rssStart).toFixed(2) : '',
    });
  }
  return out;
}

export function markdown(table: Row[]): string {
  const cells = (row: Row) => COLUMNS.map((c) => String(row[c] ?? ''));
  const lines = [`| ${COLUMNS.join(' | ')} |`, `| ${COLUMNS.map(() => '---').join(' | ')} |`];
  for (const row of table) lines.push(`| ${cells(row).join(' | ')} |`);
  return lines.join('\n');
}

/** Why the run fails: acknowledged messages lost, lies, hub exits or hangs, sockets past deadline, a starved client. */
export function failures(r: CampaignResult): string[] {
  const f: string[] = [];
  const k = r.kill;
  if (k) {
    if (k.lost) f.push(`${k.lost} acknowledged messages were never delivered`);
    if (k.undrained) f.push(`${k.undrained} messages stayed queued after the drain`);
    if (k.refusedButStored) f.push(`${k.refusedButStored} refused sends were stored and delivered`);
    if (k.redeliveredAfterComplete)
      f.push(`${k.redeliveredAfterComplete} messages came back after an answered complete`);
    if (k.exits || k.hangs) f.push(`the kill-rounds hub exited ${k.exits} times and hung ${k.hangs} times by itself`);
  }
  if (r.shared && (r.shared.exits || r.shared.hangs)) {
    f.push(`the hub under fuzz exited ${r.shared.exits} times and hung ${r.shared.hangs} times`);
  }
  for (const [kind, c] of r.hostile ?? [])
    if (c.pastDeadline) f.push(`${c.pastDeadline} ${kind} sockets open past deadline`);
  if (r.canary?.missed) f.push(`the official client missed ${r.canary.missed} messages`);
  if (r.canary && r.canary.received === 0) f.push('the official client received nothing');
  return f;
}

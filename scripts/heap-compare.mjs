#!/usr/bin/env node
/**
 * Compares V8 heap snapshots by constructor: for each (node type, name) the count of objects and
 * their self size in each snapshot, sorted by the growth from the first to the last. How
 * docs/memory.md looks for what a connection, a device or a load leaves on the heap.
 *
 *   node scripts/heap-compare.mjs before.heapsnapshot [peak.heapsnapshot ...] after.heapsnapshot [--top N]
 *
 * Snapshots come from `node --heapsnapshot-signal=SIGUSR2` (kill -USR2 <pid>), v8.writeHeapSnapshot()
 * or the inspector. Reads each file whole (JSON.parse): a 100 MB snapshot needs about 1 GB here.
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
if (args.length < 2) {
  console.error('usage: node scripts/heap-compare.mjs A.heapsnapshot [B ...] Z.heapsnapshot [--top N]');
  process.exit(2);
}

/** Map "type name" -> { count, bytes } over every node of one snapshot. */
function tally(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[fields.indexOf('type')];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt]];
    // Strings and code are grouped by type alone: their "names" are their contents.
    const name = ['object', 'closure', 'native', 'hidden', 'object shape'].includes(type)
      ? `${type} ${snap.strings[nodes[i + nameAt]]}`
      : type;
    const t = out.get(name) ?? { count: 0, bytes: 0 };
    t.count += 1;
    t.bytes += nodes[i + sizeAt];
    out.set(name, t);
  }
  return out;
}

const tallies = args.map(tally);
const first = tallies[0];
const last = tallies[tallies.length - 1];
const names = new Set(tallies.flatMap((t) => [...t.keys()]));
const rows = [...names].map((name) => ({
  name,
  each: tallies.map((t) => t.get(name) ?? { count: 0, bytes: 0 }),
  growth: (last.get(name)?.bytes ?? 0) - (first.get(name)?.bytes ?? 0),
}));
const kib = (n) => (n / 1024).toFixed(0);
const total = (t) => [...t.values()].reduce((a, b) => a + b.bytes, 0);
console.log(`snapshots: ${args.join(', ')}`);
console.log(`total self size KiB: ${tallies.map((t) => kib(total(t))).join(' -> ')}`);
console.log(
  `\n| constructor | ${args.map((_, i) => `count ${i + 1}`).join(' | ')} | ${args.map((_, i) => `KiB ${i + 1}`).join(' | ')} |`,
);
console.log(`|---|${args.map(() => '---:|').join('')}${args.map(() => '---:|').join('')}`);
const byGrowth = (a, b) => Math.abs(b.growth) - Math.abs(a.growth);
const peakGrowth = (r) => Math.max(...r.each.map((e) => e.bytes)) - r.each[0].bytes;
const shown = new Set([...rows].sort(byGrowth).slice(0, top));
// With three or more snapshots, what grew at the peak and went away counts too.
if (args.length > 2)
  for (const r of [...rows].sort((a, b) => peakGrowth(b) - peakGrowth(a)).slice(0, top)) shown.add(r);
for (const r of [...shown].sort(byGrowth)) {
  console.log(
    `| ${r.name.slice(0, 70)} | ${r.each.map((e) => e.count).join(' | ')} | ${r.each.map((e) => kib(e.bytes)).join(' | ')} |`,
  );
}

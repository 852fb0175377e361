#!/usr/bin/env node
/**
 * A flame graph (SVG, no dependencies, no network) of a V8 CPU profile: the .cpuprofile that
 * `node --cpu-prof` or the peer bench's FERRY_BENCH_PROFILE writes.
 *
 *   node scripts/flamegraph.mjs PROFILE.cpuprofile OUT.svg [title]
 *
 * Each box is a function in its caller's box, as wide as the share of the profile's time spent in
 * it and what it called (idle time is left out, so the widths are shares of the busy time). Hover a
 * box for its name, file and share. Frames of the same function under the same caller are merged.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output, title = 'CPU profile'] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node scripts/flamegraph.mjs PROFILE.cpuprofile OUT.svg [title]');
  process.exit(2);
}

const WIDTH = 1600;
const ROW = 17;
/** Boxes narrower than this (px) are not drawn; their time still counts in their parents. */
const MIN_WIDTH = 0.6;
const SKIP = new Set(['(idle)', '(program)']);

const profile = JSON.parse(readFileSync(input, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

/** A merged tree: one child per function name + file under each parent. */
function mergedTree(node) {
  const out = { name: label(node.callFrame), self: self.get(node.id) ?? 0, children: new Map() };
  for (const childId of node.children ?? []) {
    const child = byId.get(childId);
    if (SKIP.has(child.callFrame.functionName)) continue;
    const sub = mergedTree(child);
    const same = out.children.get(sub.name);
    if (same) merge(same, sub);
    else out.children.set(sub.name, sub);
  }
  return out;
}

function merge(into, from) {
  into.self += from.self;
  for (const [name, c] of from.children) {
    const same = into.children.get(name);
    if (same) merge(same, c);
    else into.children.set(name, c);
  }
}

function total(t) {
  t.total ??= t.self + [...t.children.values()].reduce((sum, c) => sum + total(c), 0);
  return t.total;
}

function label(frame) {
  const file = (frame.url || '').replace(/^.*\/(node_modules|packages)\//, '$1/').replace(/^file:\/\//, '');
  return `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`;
}

const root = mergedTree(byId.get(profile.nodes[0].id));
root.name = '(busy time)';
const busy = total(root);

const boxes = [];
let depth = 0;
function layout(t, x, level) {
  const w = (total(t) / busy) * WIDTH;
  if (w < MIN_WIDTH) return;
  depth = Math.max(depth, level);
  boxes.push({ t, x, w, level });
  let cx = x;
  const children = [...t.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const c of children) {
    layout(c, cx, level + 1);
    cx += (total(c) / busy) * WIDTH;
  }
}
layout(root, 0, 0);

const xml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Warm colours for JavaScript, blue for the runtime's native frames, green for SQLite and I/O. */
function colour(name) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  if (/^\(garbage collector\)|^\(program\)/.test(name)) return `hsl(210,60%,${70 + (h % 10)}%)`;
  if (/^(run|get|all|iterate|exec|fdatasync|writev|writeBuffer|writeUtf8String) /.test(`${name} `))
    return `hsl(120,45%,${62 + (h % 12)}%)`;
  return `hsl(${10 + (h % 40)},80%,${58 + (h % 14)}%)`;
}

const height = (depth + 1) * ROW + 40;
const rows = boxes.map(({ t, x, w, level }) => {
  const y = height - 10 - (level + 1) * ROW;
  const share = ((100 * total(t)) / busy).toFixed(2);
  const text = w > 40 ? xml(t.name.slice(0, Math.floor(w / 6.5))) : '';
  return (
    `<g><title>${xml(t.name)} (${share} %)</title>` +
    `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${ROW - 1}" fill="${colour(t.name)}"/>` +
    (text ? `<text x="${(x + 3).toFixed(1)}" y="${y + 12}">${text}</text>` : '') +
    '</g>'
  );
});
const busyMs = (busy / 1000).toFixed(0);
writeFileSync(
  output,
  `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="monospace" font-size="11">\n` +
    `<title>${xml(title)}</title>\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n` +
    `<text x="4" y="16" font-size="13">${xml(title)}: ${busyMs} ms busy; width = share of busy time (hover a box)</text>\n` +
    `${rows.join('\n')}\n</svg>\n`,
);
console.log(`${output}: ${boxes.length} boxes, ${busyMs} ms of busy time, ${depth + 1} levels`);

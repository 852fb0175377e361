#!/usr/bin/env node
// Fails when a Markdown file of the repository links to a path outside it, or to a file in it
// that does not exist. Users read these docs in a checkout or on a package page: a link that
// leaves the repository (../something beside the checkout) is broken for every one of them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f && !f.includes('node_modules/'));

// [text](target) and bare `../path` mentions in backticks that look like a file reference.
const LINK = /\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;
const TICKED_PARENT = /`(\.\.\/[^`\s]+)`/g;
const problems = [];

for (const file of files) {
  const abs = resolve(root, file);
  if (!existsSync(abs)) continue;
  const text = readFileSync(abs, 'utf8');
  const check = (target, line) => {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) return; // URLs and anchors
    const path = decodeURIComponent(target.split('#')[0]);
    if (path === '') return;
    const dest = resolve(dirname(abs), path);
    const rel = relative(root, dest);
    if (rel.startsWith(`..${sep}`) || rel === '..')
      problems.push(`${file}:${line}: ${target} points outside the repository`);
    else if (!existsSync(dest)) problems.push(`${file}:${line}: ${target} does not exist`);
  };
  text.split('\n').forEach((lineText, i) => {
    for (const m of lineText.matchAll(LINK)) check(m[1], i + 1);
    for (const m of lineText.matchAll(TICKED_PARENT)) check(m[1], i + 1);
  });
}

if (problems.length > 0) {
  process.stderr.write(`Broken documentation links:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`docs links: ${files.length} Markdown files checked, all links stay inside the repository\n`);

#!/usr/bin/env node
// Generates packages/hub/src/twins/query/parser.generated.ts from grammar.peggy with peggy (a
// pinned devDependency). The generated parser is committed, so a build needs no generation step;
// run this after changing the grammar (`npm run generate:query-parser`). A unit test
// (twins-query-parse.test.ts) fails when the committed file differs from what this makes.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import peggy from 'peggy';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'hub', 'src', 'twins', 'query');

/** The TypeScript source of the parser, as committed. */
export function generateQueryParser() {
  const grammar = readFileSync(join(dir, 'grammar.peggy'), 'utf8');
  const js = peggy.generate(grammar, { output: 'source', format: 'es', grammarSource: 'grammar.peggy' });
  return `// @ts-nocheck\n// Generated from grammar.peggy by scripts/generate-query-parser.mjs; do not edit.\n${js}`;
}

export const PARSER_FILE = join(dir, 'parser.generated.ts');

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(PARSER_FILE, generateQueryParser());
  process.stdout.write(`wrote ${PARSER_FILE}\n`);
}

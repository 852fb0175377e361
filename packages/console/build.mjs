// Builds the console into dist/: one hashed JS bundle, one hashed CSS file, and index.html that
// names them. Everything the page needs is in dist/; nothing is loaded from anywhere else.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const result = await build({
  entryPoints: [join(root, 'src/main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: dist,
  entryNames: 'app-[hash]',
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`console build: expected a .js and a .css output, got ${outputs.join(', ')}`);
const html = readFileSync(join(root, 'src/index.html'), 'utf8').replace('{{css}}', css).replace('{{js}}', js);
writeFileSync(join(dist, 'index.html'), html);
writeFileSync(join(dist, 'favicon.svg'), readFileSync(join(root, 'src/favicon.svg')));
console.log(`console built: dist/index.html, ${js}, ${css}`);

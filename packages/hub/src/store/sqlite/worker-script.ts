/**
 * Where a worker thread's compiled script is: next to the module that starts it, or, when that
 * module runs from its TypeScript source (tests under tsx), the one in dist/ (built by
 * `tsc --build`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `file` (e.g. './store-worker.js') beside `from` (the caller's import.meta.url), compiled. */
export function compiledWorkerScript(file: string, from: string): URL {
  const here = new URL(file, from);
  if (!from.endsWith('.ts')) return here;
  const built = new URL(here.href.replace('/src/store/sqlite/', '/dist/store/sqlite/'));
  if (!existsSync(fileURLToPath(built))) {
    throw new Error(`${fileURLToPath(built)} is missing; run \`npx tsc --build\` first`);
  }
  return built;
}

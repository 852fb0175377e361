/** /console/: the built files with their types and caching, nothing else reachable, 503 when not built. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { consoleFiles, findConsoleDist } from '../src/console/static-files.js';
import { type HttpHarness, hubError, startHttpHarness } from './http-harness.js';

const root = mkdtempSync(join(tmpdir(), 'ferry-console-files-'));
const dist = join(root, 'dist');
let h: HttpHarness;

before(async () => {
  mkdirSync(join(dist, 'sub'), { recursive: true });
  writeFileSync(join(root, 'secret.txt'), 'outside');
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dist, 'app-ABCD1234.js'), 'console.log(1)');
  writeFileSync(join(dist, 'app-ABCD1234.css'), 'body{}');
  writeFileSync(join(dist, 'sub', 'note.txt'), 'hello');
  h = await startHttpHarness({ consoleFiles: consoleFiles(dist) });
});
after(async () => {
  await h.close();
  rmSync(root, { recursive: true, force: true });
});

describe('console files', () => {
  test('index.html revalidated, hashed assets immutable, each with its type and the page policy', async () => {
    const index = await h.request('GET', '/console/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.match(String(index.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
    assert.match(String(index.headers['content-security-policy']), /connect-src 'self'/);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal(index.body.toString(), '<!doctype html><title>t</title>');
    const again = await h.request('GET', '/console/', { headers: { 'if-none-match': String(index.headers.etag) } });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    for (const [path, type] of [
      ['/console/app-ABCD1234.js', 'text/javascript; charset=utf-8'],
      ['/console/app-ABCD1234.css', 'text/css; charset=utf-8'],
    ]) {
      const res = await h.request('GET', path!);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['content-type'], type);
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    }
    const note = await h.request('GET', '/console/sub/note.txt');
    assert.equal(note.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(note.headers['cache-control'], 'no-cache');
    const head = await h.request('HEAD', '/console/app-ABCD1234.js');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '14');
    assert.equal(head.body.length, 0);
  });

  test('/console redirects to /console/; other methods are 405', async () => {
    const bare = await h.request('GET', '/console');
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, '/console/');
    const post = await h.request('POST', '/console/', { body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  test('no path reaches outside the directory', async () => {
    for (const path of [
      '/console/../secret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/..%2fsecret.txt',
      '/console/sub/../../secret.txt',
      '/console/sub/..%5c..%5csecret.txt',
      '/console//etc/passwd',
      '/console/sub',
      '/console/index.html%00.js',
    ]) {
      const res = await h.request('GET', path);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.body.toString(), /outside/);
    }
  });

  test('a console that was not built answers 503 saying how to build it', async () => {
    const bare = await startHttpHarness({ consoleFiles: consoleFiles(undefined) });
    try {
      const res = await bare.request('GET', '/console/');
      assert.equal(res.status, 503);
      assert.match(res.body.toString(), /npm run build/);
    } finally {
      await bare.close();
    }
  });

  test('console.enabled false: /console/ is an unknown path', async () => {
    const off = await startHttpHarness();
    try {
      const res = await off.request('GET', '/console/?api-version=1');
      assert.equal(res.status, 404);
      assert.equal(hubError(res).code, 'NotFound');
    } finally {
      await off.close();
    }
  });

  test('the hub finds the built @ferry/console package (npm run build)', () => {
    const found = findConsoleDist();
    assert.ok(found, 'packages/console/dist is missing: run npm run build');
    assert.ok(existsSync(join(found, 'index.html')));
    assert.ok(consoleFiles(found).count >= 3);
  });
});

/** Scraping a test hub's /metrics (observability.port) and checking it with promtool. */
import { spawnSync } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';

/** observability.port 0 means "disabled", so a free port is found first and handed over. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`/metrics: ${res.statusCode}`))));
    })
      .on('timeout', function (this: { destroy(err: Error): void }) {
        this.destroy(new Error('GET /metrics: no answer within 10 s'));
      })
      .on('error', reject);
  });
}

/** The value of one sample line (`name{labels} value`), or undefined when the scrape has none. */
export function sample(text: string, name: string, labels = ''): number | undefined {
  const escaped = `${name}${labels}`.replace(/[{}.+]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

export function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`promtool could not run (Debian's prometheus package provides it): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

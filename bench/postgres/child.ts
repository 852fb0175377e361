/**
 * The protocol of a bench child process (bench/postgres.bench.ts starts them): it prints "ready",
 * waits for a line on stdin (so several children start together), runs, prints its report as one
 * JSON line, and waits for another line before it closes its connections (the parent reads
 * PostgreSQL's CPU while they still exist).
 */
import { createInterface } from 'node:readline';

export interface NodeReport {
  /** Wall time of the run, ms. */
  ms: number;
  ops: number;
  transactions: number;
  /** This process's CPU over the run, µs. */
  cpuUs: number;
}

/** Runs `work` between "go" and the report; `transactions` reads a commit counter; `close` after "bye". */
export async function childRun(
  work: () => Promise<number>,
  transactions: () => number,
  close: () => Promise<void>,
): Promise<void> {
  process.stdout.write('ready\n');
  const input = createInterface({ input: process.stdin });
  const nextLine = () => new Promise<void>((resolve) => input.once('line', () => resolve()));
  await nextLine();
  const cpu = process.cpuUsage();
  const before = transactions();
  const start = process.hrtime.bigint();
  const ops = await work();
  const used = process.cpuUsage(cpu);
  const report: NodeReport = {
    ms: Number(process.hrtime.bigint() - start) / 1e6,
    ops,
    transactions: transactions() - before,
    cpuUs: used.user + used.system,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await nextLine();
  input.close();
  await close();
  process.stdin.destroy();
}

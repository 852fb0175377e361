// What this sample takes from the command line: a connection string (else an environment
// variable), --transport, and --ca (else the local Ferry hub's CA in ./ferry-data, else none).
// Each sample carries its own copy, so it can be copied out on its own.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export function sampleArgs(usage, envName, positionals) {
  let parsed;
  try {
    parsed = parseArgs({
      options: { transport: { type: 'string' }, ca: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
  } catch (err) {
    console.error(`${err.message}\n\n${usage}`);
    process.exit(2);
  }
  const { values, positionals: given } = parsed;
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const [connectionString = process.env[envName], ...rest] = given;
  if (!connectionString || rest.length < positionals) {
    console.error(usage);
    process.exit(2);
  }
  const caFile = values.ca ?? (existsSync('ferry-data/tls/ca.pem') ? 'ferry-data/tls/ca.pem' : undefined);
  return {
    connectionString,
    rest,
    transport: values.transport,
    ca: caFile ? readFileSync(caFile, 'utf8') : undefined,
  };
}

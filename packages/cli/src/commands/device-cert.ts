/** `ferry device cert <id>`: a development certificate for an X.509 device (CA-signed or self-signed). */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyAndCert } from '@ferry/hub';
import { parse, str } from '../args.js';
import { CliError, type Io } from '../io.js';
import { X509_USAGE } from './x509-usage.js';

const USAGE = X509_USAGE['device cert'];

function read(file: string, what: string): string {
  if (!existsSync(file)) throw new CliError(`${what} ${file}: no such file`);
  return readFileSync(file, 'utf8');
}

export async function deviceCert(args: string[], io: Io): Promise<number> {
  const opts = {
    ca: { type: 'string' },
    'ca-key': { type: 'string' },
    'self-signed': { type: 'boolean' },
    out: { type: 'string' },
    days: { type: 'string' },
    force: { type: 'boolean' },
  } as const;
  const { values, positionals } = parse(args, opts, USAGE, 1);
  const deviceId = positionals[0];
  if (!deviceId) throw new CliError(`ferry device cert needs a device id\n\n${USAGE}`, 2);
  const caFile = str(values.ca);
  if (!caFile === !values['self-signed']) throw new CliError(`give either --ca FILE or --self-signed\n\n${USAGE}`, 2);
  const daysText = str(values.days) ?? '365';
  if (!/^\d+$/.test(daysText) || Number(daysText) < 1)
    throw new CliError(`--days must be a whole number of days, got "${daysText}"`, 2);
  const validityDays = Number(daysText);

  const dir = str(values.out) ?? '.';
  // Device ids may hold characters a file name should not.
  const base = deviceId.replace(/[^A-Za-z0-9._-]/g, '_');
  const certFile = join(dir, `${base}.pem`);
  const keyFile = join(dir, `${base}.key.pem`);
  if (!values.force && (existsSync(certFile) || existsSync(keyFile))) {
    throw new CliError(`${certFile} or ${keyFile} exists; pass --force to replace them`);
  }

  // @ferry/hub (with node-forge) is loaded only by the commands that make certificates.
  const { issueCertificate, selfSignedCertificate, thumbprintsOf } = await import('@ferry/hub');
  let made: KeyAndCert;
  if (caFile) {
    const caKeyFile = str(values['ca-key']) ?? caFile.replace(/\.pem$/, '.key.pem');
    const ca = { certPem: read(caFile, '--ca'), keyPem: read(caKeyFile, 'CA key (--ca-key)') };
    try {
      made = issueCertificate(ca, deviceId, { validityDays });
    } catch (err) {
      throw new CliError(`cannot sign with ${caFile} and ${caKeyFile}: ${(err as Error).message} (RSA PEM needed)`);
    }
  } else {
    made = selfSignedCertificate(deviceId, { validityDays });
  }
  writeFileSync(certFile, made.certPem);
  writeFileSync(keyFile, made.keyPem, { mode: 0o600 });
  const { sha1, sha256 } = thumbprintsOf(new X509Certificate(made.certPem));
  io.out(`Wrote ${certFile} and ${keyFile}.`);
  io.out(`SHA-1 thumbprint:   ${sha1}`);
  io.out(`SHA-256 thumbprint: ${sha256}`);
  io.out(
    caFile
      ? `Register the device with authentication type certificateAuthority (CN = ${deviceId}).`
      : `Register the device with authentication type selfSigned and one of these thumbprints.`,
  );
  return 0;
}

/**
 * `ferry ca-cert add|code|verify|list|show|delete|create-test-ca`: the hub's CA certificates, as
 * IoT Hub manages them. A CA is verified by proof of possession: the hub hands out a code, and a
 * certificate signed by the CA's key with that code as common name proves the key is yours.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CertificateDescription } from '@ferry/hub';
import { parse, str } from '../args.js';
import { CertificatesClient } from '../certificates-client.js';
import { CliError, type Io } from '../io.js';
import { table } from '../table.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { X509_USAGE } from './x509-usage.js';

const USAGE = X509_USAGE['ca-cert'];

function readPem(file: string, what: string): string {
  if (!existsSync(file)) throw new CliError(`${what} ${file}: no such file`);
  return readFileSync(file, 'utf8');
}

function need(positionals: string[], n: number, what: string): string[] {
  if (positionals.length < n) throw new CliError(`${what}\n\n${USAGE}`, 2);
  return positionals;
}

function describe(c: CertificateDescription): string {
  const p = c.properties;
  return [
    `name:        ${c.name}`,
    `subject:     ${p.subject}`,
    `thumbprint:  ${p.thumbprint}`,
    `expiry:      ${p.expiry}`,
    `verified:    ${p.isVerified ? 'yes' : 'no'}`,
  ].join('\n');
}

/** The CA's key file given with --key, or the one create-test-ca wrote next to the certificate. */
function keyFile(values: Record<string, unknown>, certFile: string | undefined): string {
  const key = str(values.key as string | undefined);
  if (key) return key;
  if (certFile?.endsWith('.pem')) return certFile.replace(/\.pem$/, '.key.pem');
  throw new CliError(`give the CA's private key with --key FILE\n\n${USAGE}`, 2);
}

export async function caCert(action: string | undefined, args: string[], io: Io): Promise<number> {
  switch (action) {
    case 'add': {
      const opts = { ...TARGET_OPTIONS, verified: { type: 'boolean' }, key: { type: 'string' } } as const;
      const { values, positionals } = parse(args, opts, USAGE, 2);
      const [name, file] = need(positionals, 2, 'ferry ca-cert add needs a name and a PEM file');
      const client = new CertificatesClient(await resolveTarget(values, io));
      const added = await client.add(name!, readPem(file!, 'certificate'), values.verified === true);
      io.out(describe(added));
      // With the key at hand, prove possession at once (what `verify` does).
      if (!added.properties.isVerified && (str(values.key) || existsSync(file!.replace(/\.pem$/, '.key.pem')))) {
        const verified = await proveAndVerify(client, name!, readPem(file!, 'certificate'), keyFile(values, file));
        io.out(`verified:    ${verified.properties.isVerified ? 'yes' : 'no'} (proof of possession)`);
      } else if (!added.properties.isVerified) {
        io.out(`\nNot verified yet: \`npx ferry ca-cert verify ${name} --key <CA key file>\` proves you hold its key.`);
      }
      return 0;
    }
    case 'code': {
      const { values, positionals } = parse(args, TARGET_OPTIONS, USAGE, 1);
      const [name] = need(positionals, 1, 'ferry ca-cert code needs a certificate name');
      io.out(await new CertificatesClient(await resolveTarget(values, io)).generateVerificationCode(name!));
      return 0;
    }
    case 'verify': {
      const opts = { ...TARGET_OPTIONS, key: { type: 'string' }, proof: { type: 'string' } } as const;
      const { values, positionals } = parse(args, opts, USAGE, 1);
      const [name] = need(positionals, 1, 'ferry ca-cert verify needs a certificate name');
      const client = new CertificatesClient(await resolveTarget(values, io));
      const proof = str(values.proof);
      let verified: CertificateDescription;
      if (proof) {
        // A proof made elsewhere (openssl) for the code `ferry ca-cert code` printed.
        verified = await client.verify(name!, readPem(proof, '--proof'));
      } else {
        const key = str(values.key);
        if (!key)
          throw new CliError(
            `give the CA's private key (--key FILE) or a proof certificate (--proof FILE)\n\n${USAGE}`,
            2,
          );
        const stored = await client.get(name!);
        verified = await proveAndVerify(client, name!, stored.properties.certificate, key);
      }
      io.out(describe(verified));
      return 0;
    }
    case 'list': {
      const { values } = parse(args, TARGET_OPTIONS, USAGE, 0);
      const certs = await new CertificatesClient(await resolveTarget(values, io)).list();
      if (certs.length === 0) {
        io.out('No CA certificates yet. Upload one with `npx ferry ca-cert add <name> <ca.pem>`.');
        return 0;
      }
      io.out(
        table(
          ['NAME', 'VERIFIED', 'SUBJECT', 'THUMBPRINT', 'EXPIRY'],
          certs.map((c) => [
            c.name,
            c.properties.isVerified ? 'yes' : 'no',
            c.properties.subject,
            c.properties.thumbprint,
            c.properties.expiry,
          ]),
        ),
      );
      return 0;
    }
    case 'show': {
      const { values, positionals } = parse(args, TARGET_OPTIONS, USAGE, 1);
      const [name] = need(positionals, 1, 'ferry ca-cert show needs a certificate name');
      io.out(describe(await new CertificatesClient(await resolveTarget(values, io)).get(name!)));
      return 0;
    }
    case 'delete': {
      const { values, positionals } = parse(args, TARGET_OPTIONS, USAGE, 1);
      const [name] = need(positionals, 1, 'ferry ca-cert delete needs a certificate name');
      await new CertificatesClient(await resolveTarget(values, io)).delete(name!);
      io.out(`Deleted CA certificate ${name}.`);
      return 0;
    }
    case 'create-test-ca': {
      const opts = { out: { type: 'string' }, cn: { type: 'string' }, force: { type: 'boolean' } } as const;
      const { values, positionals } = parse(args, opts, USAGE, 1);
      const base = positionals[0] ?? 'test-ca';
      const dir = str(values.out) ?? '.';
      const certFile = join(dir, `${base}.pem`);
      const keyFileName = join(dir, `${base}.key.pem`);
      if (!values.force && (existsSync(certFile) || existsSync(keyFileName))) {
        throw new CliError(`${certFile} or ${keyFileName} exists; pass --force to replace them`);
      }
      // @ferry/hub (with node-forge) is loaded only by the commands that make certificates.
      const { createTestCa } = await import('@ferry/hub');
      const ca = createTestCa(str(values.cn) ?? `Ferry test CA ${base}`);
      writeFileSync(certFile, ca.certPem);
      writeFileSync(keyFileName, ca.keyPem, { mode: 0o600 });
      io.out(`Wrote ${certFile} and ${keyFileName} (for development only).`);
      io.out(`Next: npx ferry ca-cert add ${base} ${certFile}   (proves possession with ${keyFileName})`);
      return 0;
    }
    case undefined:
    case '--help':
    case '-h':
      io.out(USAGE);
      return action === undefined ? 2 : 0;
    default:
      throw new CliError(`unknown command \`ferry ca-cert ${action}\`\n\n${USAGE}`, 2);
  }
}

/** Gets a verification code, signs a certificate for it with the CA's key, and uploads it. */
async function proveAndVerify(
  client: CertificatesClient,
  name: string,
  caPem: string,
  keyPath: string,
): Promise<CertificateDescription> {
  const code = await client.generateVerificationCode(name);
  const { issueCertificate } = await import('@ferry/hub');
  let proof: string;
  try {
    proof = issueCertificate({ certPem: caPem, keyPem: readPem(keyPath, 'CA key') }, code).certPem;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot sign with ${keyPath}: ${(err as Error).message} (an RSA key in PEM is needed)`);
  }
  return client.verify(name, proof);
}

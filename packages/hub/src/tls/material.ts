/**
 * The hub's TLS material. Either the user's own certificate and key (config tls.certFile /
 * keyFile), or Ferry's: a private CA in <dataDir>/tls (made once, then reused) and a server
 * certificate for the configured hosts, issued again whenever the hosts change.
 */
import { join, resolve } from 'node:path';
import { FerryError } from '@ferry/common';
import type { TlsConfig } from '../config/types.js';
import { readIfExists, writeAtomic } from './files.js';
import { createCa, issueServerCert, type KeyAndCert, serverCertFits } from './pki.js';

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  /** The CA file clients should trust; undefined for a user certificate without tls.caFile. */
  caFile: string | undefined;
  /** True when a new server certificate was issued by this call. */
  issued: boolean;
}

export interface CaFiles {
  caFile: string;
  caKeyFile: string;
  /** True when this call created the CA. */
  created: boolean;
}

const PRIVATE = 0o600;
const PUBLIC = 0o644;

export function tlsDir(dataDir: string): string {
  return join(resolve(dataDir), 'tls');
}

function loadCa(dataDir: string): { ca: KeyAndCert | undefined; files: Omit<CaFiles, 'created'> } {
  const dir = tlsDir(dataDir);
  const files = { caFile: join(dir, 'ca.pem'), caKeyFile: join(dir, 'ca-key.pem') };
  const certPem = readIfExists(files.caFile);
  const keyPem = readIfExists(files.caKeyFile);
  if (certPem === undefined && keyPem === undefined) return { ca: undefined, files };
  if (certPem === undefined || keyPem === undefined) {
    throw new FerryError(
      'ArgumentInvalid',
      `${dir} holds only one of ca.pem and ca-key.pem; restore the other, or remove both to make a new CA`,
    );
  }
  return { ca: { certPem, keyPem }, files };
}

/** Creates the private CA when the data dir has none; returns the file paths. */
export function ensureCa(dataDir: string): CaFiles {
  const { ca, files } = loadCa(dataDir);
  if (ca) return { ...files, created: false };
  const made = createCa();
  writeAtomic(files.caKeyFile, made.keyPem, PRIVATE);
  writeAtomic(files.caFile, made.certPem, PUBLIC);
  return { ...files, created: true };
}

function readUserFile(path: string, what: string): string {
  const text = readIfExists(path);
  if (text === undefined) throw new FerryError('ArgumentInvalid', `${what} ${path} does not exist`);
  return text;
}

export function ensureTlsMaterial(opts: { dataDir: string; hosts: readonly string[]; tls: TlsConfig }): TlsMaterial {
  const { tls } = opts;
  if (tls.certFile && tls.keyFile) {
    return {
      certPem: readUserFile(tls.certFile, 'tls.certFile'),
      keyPem: readUserFile(tls.keyFile, 'tls.keyFile'),
      caFile: tls.caFile ? resolve(tls.caFile) : undefined,
      issued: false,
    };
  }
  const { caFile, caKeyFile } = ensureCa(opts.dataDir);
  const ca = { certPem: readUserFile(caFile, 'CA file'), keyPem: readUserFile(caKeyFile, 'CA key file') };
  const dir = tlsDir(opts.dataDir);
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server-key.pem');
  const certPem = readIfExists(certFile);
  const keyPem = readIfExists(keyFile);
  if (certPem !== undefined && keyPem !== undefined && serverCertFits({ certPem, keyPem }, ca, opts.hosts)) {
    return { certPem, keyPem, caFile, issued: false };
  }
  const server = issueServerCert(ca, opts.hosts);
  writeAtomic(keyFile, server.keyPem, PRIVATE);
  writeAtomic(certFile, server.certPem, PUBLIC);
  return { ...server, caFile, issued: true };
}

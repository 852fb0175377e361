/**
 * The verified hub CA certificates as this node last read them: the trust anchors of the TLS
 * listeners (OpenSSL verifies client chains against them in the handshake) and what a connection
 * authenticated through a CA is judged against when that CA is deleted or no longer verified.
 *
 * The set is read again after every CA write on this node, when another node says it wrote one
 * (cluster signal), when signals may have been missed, and whenever an authentication reads a set
 * that differs from it (so a missed signal heals on the next attempt). Reads run one at a time,
 * so an older read never overwrites a newer one.
 */
import type { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { VerifiedCaSource } from './x509.js';

/** What the gateways see of it: whether CAs are still verified, and removals to cut connections on. */
export interface CaRevocations {
  /** True when every one of these CAs (SHA-256 fingerprints) is still a verified hub CA. */
  trusts(viaCas: readonly string[]): boolean;
  /**
   * Called with the fingerprints of CAs deleted or no longer verified, when
   * x509.disconnectOnCaRemoval is on. Returns an unsubscribe function.
   */
  onRemoved(fn: (removed: ReadonlySet<string>) => void): () => void;
}

export interface CaTrustOptions {
  /** The store's verified CAs (CaCertificates). */
  source: VerifiedCaSource;
  /** x509.disconnectOnCaRemoval: whether removals reach onRemoved listeners. */
  disconnectOnRemoval: boolean;
  logger: Logger;
}

export class CaTrust implements VerifiedCaSource, CaRevocations {
  private current = new Map<string, X509Certificate>();
  private readonly changeListeners = new Set<(pems: readonly string[]) => void>();
  private readonly removalListeners = new Set<(removed: ReadonlySet<string>) => void>();
  private reading: Promise<void> | undefined;
  private readAgain = false;

  constructor(private readonly opts: CaTrustOptions) {}

  /** The verified CAs as PEM: the TLS listeners' `ca`. */
  pems(): string[] {
    return [...this.current.values()].map((c) => c.toString());
  }

  trusts(viaCas: readonly string[]): boolean {
    return viaCas.every((fp) => this.current.has(fp));
  }

  /** Called with the new PEMs whenever the set changes (the listeners rebuild their TLS contexts). */
  onChange(fn: (pems: readonly string[]) => void): () => void {
    this.changeListeners.add(fn);
    return () => void this.changeListeners.delete(fn);
  }

  onRemoved(fn: (removed: ReadonlySet<string>) => void): () => void {
    this.removalListeners.add(fn);
    return () => void this.removalListeners.delete(fn);
  }

  /** The store's set, read now; a difference from ours makes us read it again for ourselves. */
  async verifiedCaCertificates(): Promise<readonly X509Certificate[]> {
    const fresh = await this.opts.source.verifiedCaCertificates();
    if (fresh.length !== this.current.size || fresh.some((c) => !this.current.has(c.fingerprint256))) {
      this.refresh().catch(() => undefined);
    }
    return fresh;
  }

  /** Reads the set again; resolves once a read that began after this call has been applied. */
  refresh(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.readAgain = false;
          this.apply(await this.opts.source.verifiedCaCertificates());
        } while (this.readAgain);
      } catch (err) {
        this.opts.logger.error({ err }, 'could not read the verified CA certificates');
        throw err;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private apply(certs: readonly X509Certificate[]): void {
    const next = new Map(certs.map((c) => [c.fingerprint256, c]));
    const removed = new Set([...this.current.keys()].filter((fp) => !next.has(fp)));
    const added = [...next.keys()].filter((fp) => !this.current.has(fp));
    if (removed.size === 0 && added.length === 0) return;
    this.current = next;
    this.opts.logger.info(
      { verifiedCas: next.size, added: added.length, removed: removed.size },
      'the verified CA certificates changed',
    );
    const pems = this.pems();
    for (const fn of this.changeListeners) this.call(() => fn(pems));
    if (removed.size > 0 && this.opts.disconnectOnRemoval) {
      for (const fn of this.removalListeners) this.call(() => fn(removed));
    }
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.logger.error({ err }, 'a CA change listener threw');
    }
  }
}

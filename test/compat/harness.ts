/**
 * Start real `ferry hub start` processes for end-to-end tests with the official SDKs.
 * CONTRACT (implemented by the CLI/listeners engineer; other tests code against it).
 *
 * scripts/test.mjs runs `ferry hub ca --data-dir <tmp>/ferry-test-ca` (which creates the CA when
 * missing and prints its path) before the compat run, starts the compat test process with
 * NODE_EXTRA_CA_CERTS=<that CA file> (the service SDK only trusts CAs given that way, at start-up)
 * and FERRY_TEST_CA_DIR=<tmp>/ferry-test-ca. startHub() copies that CA into each new data dir
 * (`<dataDir>/tls/ca.pem`, `<dataDir>/tls/ca-key.pem`) so the hub issues its server certificate from it.
 *
 * Each hub gets its own loopback address (127.0.0.2, 127.0.0.3, ...) with the standard ports
 * 443 / 8883 / 5671, and that address is the HostName in every connection string (the
 * certificate carries it as an IP SAN).
 */
export interface StartHubOptions {
  /** Config overrides written to a JSON config file passed with --config, e.g. { c2d: { lockTimeoutMs: 2000 } }. */
  config?: Record<string, unknown>;
  /** Reuse a data dir (e.g. a previous hub's) instead of a fresh temp dir. */
  dataDir?: string;
  /** Reuse an address instead of the next free one. */
  address?: string;
  env?: Record<string, string>;
}

export interface HubProcess {
  /** Loopback address the hub binds to, also its HostName. */
  readonly address: string;
  readonly dataDir: string;
  /** PEM file of the hub's CA. */
  readonly caFile: string;
  /** iothubowner connection string. */
  readonly ownerConnectionString: string;
  /** Connection string of any shared access policy (iothubowner, service, device, registryRead, registryReadWrite). */
  connectionString(policy: string): string;
  /** Creates a device through the registry REST API; returns its primary-key connection string. */
  createDevice(deviceId: string, opts?: { status?: 'enabled' | 'disabled' }): Promise<string>;
  /** SIGTERM, waits for exit, returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, waits for exit. */
  kill(): Promise<void>;
  /** Starts the hub again with the same address, data dir and config. */
  restart(): Promise<void>;
  /** Everything the process printed so far (stdout + stderr). */
  output(): string;
}

export declare function startHub(opts?: StartHubOptions): Promise<HubProcess>;

/** HTTPS request to a hub (CA trusted), for raw protocol tests. */
export declare function hubRequest(
  hub: HubProcess,
  method: string,
  path: string,
  opts?: { headers?: Record<string, string>; body?: string | Buffer },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>;

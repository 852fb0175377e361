/** Who is calling, and what they may do. Produced by Authenticator from a SAS token. */

export type Permission = 'RegistryRead' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect';

export type Principal =
  | {
      kind: 'policy';
      policyName: string;
      permissions: ReadonlySet<Permission>;
      /** URL-decoded `sr` path below the host ('' for the whole hub, '/devices/dev1' ...). */
      scope: string;
      /** ms since the epoch when the token expires */
      expiresAt: number;
    }
  | {
      kind: 'device';
      deviceId: string;
      /** Always DeviceConnect on /devices/{deviceId} only. */
      expiresAt: number;
      /**
       * X.509 certificateAuthority devices: the SHA-256 fingerprints (as X509Certificate writes
       * them) of the verified hub CAs the chain went through; deleting or un-verifying one of
       * them cuts the connection (x509.disconnectOnCaRemoval).
       */
      viaCas?: readonly string[];
    };

/** What an operation needs. DeviceConnect is always for one device. */
export type Operation =
  | {
      permission: 'RegistryRead' | 'RegistryWrite' | 'ServiceConnect';
      /** The path the token's scope must cover (default /devices, or /messages for ServiceConnect). */
      path?: string;
    }
  | { permission: 'DeviceConnect'; deviceId: string };

export interface Authenticator {
  /**
   * Verify a `SharedAccessSignature sr=..&sig=..&se=..[&skn=..]` string: host matched with or
   * without port, case-insensitively; HMAC over the raw sr; 5-minute skew; primary or secondary
   * key; disabled devices refused. Throws FerryError IotHubUnauthorizedAccess (or DeviceDisabled).
   */
  authenticate(token: string): Promise<Principal>;
  /** Throws FerryError IotHubUnauthorizedAccess when the principal may not do `op`. */
  authorize(principal: Principal, op: Operation): void;
  /** Non-throwing form of authorize. */
  can(principal: Principal, op: Operation): boolean;
}

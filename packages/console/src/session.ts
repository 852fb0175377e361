/**
 * The signed-in policy. The connection string lives only in sessionStorage (this tab, until it
 * closes or the user signs out), never in localStorage, a cookie or a URL.
 */
import { HubApi, type HubInfo, type Right } from './api.js';
import { parsePolicyConnectionString } from './sas.js';

const KEY = 'ferry.console.connectionString';

export interface Session {
  api: HubApi;
  info: HubInfo;
  can(right: Right): boolean;
}

/** Checks the string against the hub (GET /hubInfo) before keeping it. */
export async function signIn(connectionString: string): Promise<Session> {
  const api = new HubApi(parsePolicyConnectionString(connectionString));
  const info = await api.hubInfo();
  sessionStorage.setItem(KEY, connectionString.trim());
  return sessionOf(api, info);
}

export function savedConnectionString(): string | null {
  return sessionStorage.getItem(KEY);
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

function sessionOf(api: HubApi, info: HubInfo): Session {
  const rights = new Set<Right>(info.caller.rights);
  // RegistryWrite implies RegistryRead, as the hub decides.
  if (rights.has('RegistryWrite')) rights.add('RegistryRead');
  return { api, info, can: (r) => rights.has(r) };
}

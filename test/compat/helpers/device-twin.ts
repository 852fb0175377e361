/** The official device client's twin, promisified for tests. */
import type { Twin } from 'azure-iot-device';
import { withTimeout } from './wait.js';

/** Sends a reported-properties patch and waits for the hub's answer. */
export function update(twin: Twin, patch: Record<string, unknown>): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve, reject) =>
      twin.properties.reported.update(patch, (err?: Error) => (err ? reject(err) : resolve())),
    ),
    15_000,
    'reported update',
  );
}

/** Resolves once the client is subscribed to desired updates (the listener's subscribe has its SUBACK). */
export function desiredEnabled(twin: Twin): Promise<void> {
  const t = twin as unknown as { enableTwinDesiredPropertiesUpdates(cb: (err?: Error) => void): void };
  return withTimeout(
    new Promise<void>((resolve, reject) =>
      t.enableTwinDesiredPropertiesUpdates((err) => (err ? reject(err) : resolve())),
    ),
    15_000,
    'desired updates enabled',
  );
}

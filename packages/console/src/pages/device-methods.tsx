/**
 * Invoke a direct method on the device (POST /twins/{id}/methods) and see its status and payload,
 * or IoT Hub's error: DeviceNotOnline (404103) when no connection of the device listens for
 * methods within the connect timeout, GatewayTimeout (504101) when it does not answer in time.
 */
import { useState } from 'preact/hooks';
import { Card, CodeField, ErrorBanner } from '../components/common.js';
import type { Session } from '../session.js';

/** IoT Hub's limits on the two timeouts, in seconds. */
const RESPONSE_TIMEOUT = { min: 5, max: 300, initial: 30 };
const CONNECT_TIMEOUT = { min: 0, max: 300, initial: 0 };

function NumberField(props: {
  id: string;
  label: string;
  value: number;
  limits: { min: number; max: number };
  onInput(v: number): void;
}) {
  return (
    <div class="row">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="number"
        min={props.limits.min}
        max={props.limits.max}
        step={1}
        value={props.value}
        onInput={(e) => props.onInput(Number(e.currentTarget.value))}
      />
    </div>
  );
}

export function DeviceMethods({ session, deviceId }: { session: Session; deviceId: string }) {
  const [name, setName] = useState('');
  const [payload, setPayload] = useState('{}');
  const [responseTimeout, setResponseTimeout] = useState(RESPONSE_TIMEOUT.initial);
  const [connectTimeout, setConnectTimeout] = useState(CONNECT_TIMEOUT.initial);
  const [waiting, setWaiting] = useState(false);
  const [answer, setAnswer] = useState<{ method: string; status: number; payload: unknown } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const canInvoke = session.can('ServiceConnect');

  const invoke = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setAnswer(null);
    let body: unknown;
    try {
      body = payload.trim() === '' ? null : JSON.parse(payload);
    } catch (err) {
      setError(new Error(`The payload is not valid JSON: ${(err as Error).message}`));
      return;
    }
    setWaiting(true);
    try {
      const r = await session.api.invokeMethod(deviceId, {
        methodName: name.trim(),
        payload: body,
        responseTimeoutInSeconds: responseTimeout,
        connectTimeoutInSeconds: connectTimeout,
      });
      setAnswer({ method: name.trim(), ...r });
    } catch (err) {
      setError(err);
    } finally {
      setWaiting(false);
    }
  };

  return (
    <Card title="Invoke a direct method">
      <form aria-label="Invoke a direct method" onSubmit={invoke}>
        <div class="row">
          <label for="method-name">Method name</label>
          <input id="method-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <CodeField id="method-payload" label="Payload (JSON)" rows={4} value={payload} onInput={setPayload} />
        <div class="cols">
          <NumberField
            id="method-response-timeout"
            label="Response timeout (s)"
            value={responseTimeout}
            limits={RESPONSE_TIMEOUT}
            onInput={setResponseTimeout}
          />
          <NumberField
            id="method-connect-timeout"
            label="Connect timeout (s)"
            value={connectTimeout}
            limits={CONNECT_TIMEOUT}
            onInput={setConnectTimeout}
          />
        </div>
        <button type="submit" disabled={!canInvoke || waiting}>
          Invoke method
        </button>
        {!canInvoke && <span class="note"> Invoking needs ServiceConnect.</span>}
      </form>
      {waiting && (
        <p class="note" role="status">
          Waiting for the device (up to {connectTimeout + responseTimeout} s)…
        </p>
      )}
      <ErrorBanner error={error} onClose={() => setError(null)} />
      {answer && (
        <section aria-label="Method answer" data-testid="method-answer">
          <p role="status">
            <strong>{answer.method}</strong> answered with status <strong>{answer.status}</strong>
          </p>
          <pre class="json">{JSON.stringify(answer.payload, null, 2)}</pre>
        </section>
      )}
    </Card>
  );
}

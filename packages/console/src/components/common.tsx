/** Small shared pieces: error banner, copy button, masked secret, time and body formatting. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { historyHref } from '../route.js';

/** Shows a refusal exactly as the hub gave it (status, IoT Hub error code, text); never hides it. */
export function ErrorBanner({ error, onClose }: { error: unknown; onClose?: () => void }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : undefined;
  return (
    <div class="error" role="alert" data-testid="error">
      <strong>
        {e ? `${e.status || 'No answer'} ${e.code}${e.numericCode ? ` (${e.numericCode})` : ''}` : 'Error'}
      </strong>{' '}
      <span>{e ? e.message : String((error as Error).message ?? error)}</span>
      {onClose && (
        <button type="button" class="link" onClick={onClose} aria-label="Dismiss the error">
          ×
        </button>
      )}
    </div>
  );
}

/**
 * A change's refusal or a load's failure (dismissed together), and the notice of a change done:
 * what the pages that change things show above their content.
 */
export function Outcome({
  errors,
  clear,
  notice,
}: {
  errors: unknown[];
  /** The setters of `errors`, called with null when the banner is dismissed. */
  clear: Array<(none: null) => void>;
  notice: string;
}) {
  return (
    <>
      <ErrorBanner
        error={errors.find((e) => e)}
        onClose={() => {
          for (const c of clear) c(null);
        }}
      />
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
    </>
  );
}

/** A labelled multi-line text field in monospace (JSON, a query). */
export function CodeField({
  id,
  label,
  value,
  rows,
  onInput,
}: {
  id: string;
  label: string;
  value: string;
  rows: number;
  onInput(value: string): void;
}) {
  return (
    <div class="row">
      <label for={id}>{label}</label>
      <textarea id={id} class="code" rows={rows} value={value} onInput={(e) => onInput(e.currentTarget.value)} />
    </div>
  );
}

/** A C2D message id, linked to its timeline on the device's history tab; '—' when none. */
export function MessageIdLink({ deviceId, messageId }: { deviceId: string; messageId: string | null }) {
  if (!messageId) return <>—</>;
  return (
    <a href={historyHref(deviceId, messageId)} title="Show this message's history">
      <code>{messageId}</code>
    </a>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState<'' | 'Copied' | 'Copy failed'>('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('Copied');
    } catch {
      setDone('Copy failed');
    }
    setTimeout(() => setDone(''), 1500);
  };
  return (
    <button type="button" class="small" onClick={copy} aria-live="polite">
      {done || label}
    </button>
  );
}

/** `SharedAccessKey=...` shown as dots until asked. */
export function Secret({ text, label }: { text: string; label: string }) {
  const [shown, setShown] = useState(false);
  const masked = text.replace(/(SharedAccessKey=)[^;]*/i, '$1••••••••');
  return (
    <div class="secret">
      <code title={label}>{shown ? text : masked}</code>
      <button type="button" class="small" onClick={() => setShown(!shown)} aria-pressed={shown}>
        {shown ? 'Hide' : 'Show'}
      </button>
      <CopyButton text={text} />
    </div>
  );
}

export function Card({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section class="card" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** Azure's "never" is 0001-01-01. */
export function when(iso: string | null | undefined): string {
  if (!iso || iso.startsWith('0001-')) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function deviceConnectionString(host: string, deviceId: string, key: string): string {
  return `HostName=${host};DeviceId=${deviceId};SharedAccessKey=${key}`;
}

/** A body's first bytes (base64) as text, cut at 80 characters, with its size when only part came. */
export function bodyText(previewBase64: string, size: number): string {
  const bin = atob(previewBase64);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return size > bytes.length ? `${shown}… (${size} bytes)` : shown;
}

/** Application properties as `name=value` lines; '—' when none. */
export function propertyLines(properties: Record<string, string>): string {
  const entries = Object.entries(properties);
  return entries.length === 0 ? '—' : entries.map(([k, v]) => `${k}=${v}`).join('\n');
}

/** Send one C2D message: body, system properties, ack, expiry and any number of properties. */
import { useState } from 'preact/hooks';
import { isPropertyName, type OutgoingC2d } from '../api.js';

const ACKS = ['none', 'positive', 'negative', 'full'] as const;

export function SendForm({ canSend, onSend }: { canSend: boolean; onSend: (m: OutgoingC2d) => Promise<boolean> }) {
  const [body, setBody] = useState('');
  const [contentType, setContentType] = useState('text/plain; charset=utf-8');
  const [messageId, setMessageId] = useState('');
  const [correlationId, setCorrelationId] = useState('');
  const [ack, setAck] = useState<string>('none');
  const [expiryMinutes, setExpiryMinutes] = useState('');
  const [props, setProps] = useState<Array<[string, string]>>([]);
  const badName = props.find(([name]) => name !== '' && !isPropertyName(name));

  const submit = async (e: Event) => {
    e.preventDefault();
    const minutes = Number(expiryMinutes);
    const sent = await onSend({
      body,
      contentType,
      messageId: messageId.trim(),
      correlationId: correlationId.trim(),
      ack,
      expiry: expiryMinutes && minutes > 0 ? new Date(Date.now() + minutes * 60_000).toISOString() : undefined,
      properties: props.filter(([name]) => name !== ''),
    });
    if (sent) setMessageId('');
  };
  const text = (id: string, label: string, value: string, set: (v: string) => void, placeholder = '') => (
    <div class="row">
      <label for={id}>{label}</label>
      <input
        id={id}
        value={value}
        placeholder={placeholder}
        autocomplete="off"
        onInput={(e) => set((e.target as HTMLInputElement).value)}
      />
    </div>
  );
  const setProp = (i: number, at: 0 | 1, v: string) =>
    setProps(props.map((p, j) => (j === i ? ((at === 0 ? [v, p[1]] : [p[0], v]) as [string, string]) : p)));

  return (
    <form class="card send" onSubmit={submit} aria-label="Send a cloud-to-device message">
      <h2>Send a message</h2>
      {!canSend && <p class="note">Sending needs ServiceConnect (this policy has not).</p>}
      <div class="row">
        <label for="send-body">Body</label>
        <textarea
          id="send-body"
          rows={3}
          value={body}
          onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)}
        />
      </div>
      <div class="cols">
        {text('send-content-type', 'Content type', contentType, setContentType)}
        {text('send-message-id', 'Message id', messageId, setMessageId, 'none when empty')}
        {text('send-correlation-id', 'Correlation id', correlationId, setCorrelationId)}
        <div class="row">
          <label for="send-ack">Ack</label>
          <select id="send-ack" value={ack} onChange={(e) => setAck((e.target as HTMLSelectElement).value)}>
            {ACKS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div class="row">
          <label for="send-expiry">Expires in (minutes)</label>
          <input
            id="send-expiry"
            type="number"
            min="1"
            placeholder="hub default"
            value={expiryMinutes}
            onInput={(e) => setExpiryMinutes((e.target as HTMLInputElement).value)}
          />
        </div>
      </div>
      <fieldset>
        <legend>Properties</legend>
        {props.map(([name, value], i) => (
          <div class="prop" key={i}>
            <input
              aria-label={`Property ${i + 1} name`}
              placeholder="name"
              value={name}
              onInput={(e) => setProp(i, 0, (e.target as HTMLInputElement).value)}
            />
            <input
              aria-label={`Property ${i + 1} value`}
              placeholder="value"
              value={value}
              onInput={(e) => setProp(i, 1, (e.target as HTMLInputElement).value)}
            />
            <button
              type="button"
              class="small"
              aria-label={`Remove property ${i + 1}`}
              onClick={() => setProps(props.filter((_, j) => j !== i))}
            >
              Remove
            </button>
          </div>
        ))}
        <button type="button" class="small" onClick={() => setProps([...props, ['', '']])}>
          Add property
        </button>
        {badName && (
          <p class="note" role="alert">
            "{badName[0]}" cannot be sent over HTTPS: use letters, digits and !#$%&'*+-.^_`|~ only.
          </p>
        )}
      </fieldset>
      <button type="submit" id="send-message" disabled={!canSend || badName !== undefined}>
        Send
      </button>
    </form>
  );
}

/** Create a device with generated keys, or with keys given here. */
import { useState } from 'preact/hooks';

export interface NewDevice {
  deviceId: string;
  status: 'enabled';
  authentication: { type: 'sas'; symmetricKey: { primaryKey: string; secondaryKey: string } };
}

export function CreateDeviceForm({
  canWrite,
  onCreate,
}: {
  canWrite: boolean;
  /** Resolves true when the device was created. */
  onCreate: (body: NewDevice) => Promise<boolean>;
}) {
  const [id, setId] = useState('');
  const [auto, setAuto] = useState(true);
  const [primary, setPrimary] = useState('');
  const [secondary, setSecondary] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    // Empty keys: the hub generates them.
    const created = await onCreate({
      deviceId: id.trim(),
      status: 'enabled',
      authentication: {
        type: 'sas',
        symmetricKey: { primaryKey: auto ? '' : primary.trim(), secondaryKey: auto ? '' : secondary.trim() },
      },
    });
    if (created) setId('');
  };
  const input = (value: string, set: (v: string) => void) => ({
    value,
    onInput: (e: Event) => set((e.target as HTMLInputElement).value),
  });
  return (
    <form class="card create" onSubmit={submit} aria-label="Create a device">
      <h2>New device</h2>
      {!canWrite && <p class="note">Creating devices needs RegistryWrite (this policy has not).</p>}
      <div class="row">
        <label for="new-id">Device id</label>
        <input id="new-id" name="deviceId" required autocomplete="off" {...input(id, setId)} />
      </div>
      <div class="row">
        <label>
          <input type="checkbox" checked={auto} onChange={(e) => setAuto((e.target as HTMLInputElement).checked)} />{' '}
          Generate keys
        </label>
      </div>
      {!auto && (
        <>
          <div class="row">
            <label for="new-primary">Primary key (base64)</label>
            <input id="new-primary" required autocomplete="off" {...input(primary, setPrimary)} />
          </div>
          <div class="row">
            <label for="new-secondary">Secondary key (base64)</label>
            <input id="new-secondary" required autocomplete="off" {...input(secondary, setSecondary)} />
          </div>
        </>
      )}
      <button type="submit" id="create-device" disabled={!canWrite}>
        Create
      </button>
    </form>
  );
}

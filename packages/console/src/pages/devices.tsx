/** Devices: a searchable, paged list with create, enable/disable, new keys, delete and copy; the device query. */
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { Device } from '../api.js';
import { CopyButton, deviceConnectionString, Outcome, when } from '../components/common.js';
import { QueryBox } from '../components/query-box.js';
import { Table } from '../components/table.js';
import { deviceHref } from '../route.js';
import { newKey } from '../sas.js';
import type { Session } from '../session.js';
import { CreateDeviceForm } from './create-device.js';

const PAGE_SIZE = 20;

export function DevicesPage({ session }: { session: Session }) {
  const { api } = session;
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  /** Continuation tokens of the pages before this one ('' = the first page). */
  const [trail, setTrail] = useState<string[]>([]);
  const [current, setCurrent] = useState('');
  const [page, setPage] = useState<{ devices: Device[]; next: string | undefined } | null>(null);
  const [error, setError] = useState<unknown>(null);
  /** A failed load; cleared by the next load that works. */
  const [loadError, setLoadError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const canWrite = session.can('RegistryWrite');
  const canRead = session.can('RegistryRead');

  const load = useCallback(async () => {
    if (!canRead) return;
    try {
      setPage(await api.listDevices({ top: PAGE_SIZE, contains: applied, continuation: current || undefined }));
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  }, [api, applied, current, canRead]);
  useEffect(() => void load(), [load]);

  /**
   * Runs one change, shows its refusal if any, reloads the page; the notice of a change done comes
   * with the reloaded page, so what it announces is what the list shows.
   */
  const act = async (what: string, work: () => Promise<unknown>): Promise<boolean> => {
    setError(null);
    setNotice('');
    let done = false;
    try {
      await work();
      done = true;
    } catch (err) {
      setError(err);
    }
    await load();
    if (done) setNotice(what);
    return done;
  };

  const host = api.connection.hostName;
  return (
    <div>
      <h1>Devices</h1>
      <Outcome errors={[error, loadError]} clear={[setError, setLoadError]} notice={notice} />
      <CreateDeviceForm
        canWrite={canWrite}
        onCreate={(body) => act(`Created ${body.deviceId}`, () => api.putDevice(body))}
      />
      {!canRead && <p class="note">Listing devices needs RegistryRead (this policy has not).</p>}
      {canRead && deviceList()}
      {(canRead || session.can('ServiceConnect')) && <QueryBox session={session} />}
    </div>
  );

  /** The search, table and pager (a plain call, not a component, so the inputs keep their focus). */
  function deviceList() {
    return (
      <>
        <form
          class="toolbar"
          aria-label="Search devices"
          onSubmit={(e) => {
            e.preventDefault();
            setTrail([]);
            setCurrent('');
            setApplied(search.trim());
          }}
        >
          <label for="search">Device id contains</label>
          <input
            id="search"
            type="search"
            value={search}
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          />
          <button type="submit">Search</button>
        </form>
        <Table columns={['Device id', 'Status', 'Connection', 'Last activity', 'Waiting', 'Actions']}>
          {page?.devices.map((d) => (
            <tr key={d.deviceId} data-device={d.deviceId}>
              <th scope="row">
                <a href={deviceHref(d.deviceId)}>{d.deviceId}</a>
              </th>
              <td>
                <span class={`pill ${d.status}`}>{d.status}</span>
              </td>
              <td>{d.connectionState}</td>
              <td>{when(d.lastActivityTime)}</td>
              <td>{d.cloudToDeviceMessageCount}</td>
              <td class="actions">
                <button
                  type="button"
                  class="small"
                  disabled={!canWrite}
                  onClick={() =>
                    act(`${d.status === 'enabled' ? 'Disabled' : 'Enabled'} ${d.deviceId}`, () =>
                      api.putDevice({ ...d, status: d.status === 'enabled' ? 'disabled' : 'enabled' }, d.etag),
                    )
                  }
                >
                  {d.status === 'enabled' ? 'Disable' : 'Enable'}
                </button>
                <button
                  type="button"
                  class="small"
                  disabled={!canWrite || d.authentication.type !== 'sas'}
                  onClick={() =>
                    act(`New keys for ${d.deviceId}`, () =>
                      api.putDevice(
                        {
                          ...d,
                          authentication: {
                            ...d.authentication,
                            symmetricKey: { primaryKey: newKey(), secondaryKey: newKey() },
                          },
                        },
                        d.etag,
                      ),
                    )
                  }
                >
                  New keys
                </button>
                <button
                  type="button"
                  class="small danger"
                  disabled={!canWrite}
                  onClick={() => {
                    if (confirm(`Delete device ${d.deviceId} and its queue?`))
                      void act(`Deleted ${d.deviceId}`, () => api.deleteDevice(d.deviceId));
                  }}
                >
                  Delete
                </button>
                {d.authentication.symmetricKey.primaryKey && (
                  <CopyButton
                    label="Copy connection string"
                    text={deviceConnectionString(host, d.deviceId, d.authentication.symmetricKey.primaryKey)}
                  />
                )}
              </td>
            </tr>
          ))}
        </Table>
        {page && page.devices.length === 0 && (
          <p class="note">No devices{applied ? ` whose id contains "${applied}"` : ''}.</p>
        )}
        <div class="pager">
          <button
            type="button"
            disabled={trail.length === 0}
            onClick={() => {
              setCurrent(trail[trail.length - 1] ?? '');
              setTrail(trail.slice(0, -1));
            }}
          >
            Previous page
          </button>
          <button
            type="button"
            disabled={!page?.next}
            onClick={() => {
              setTrail([...trail, current]);
              setCurrent(page!.next!);
            }}
          >
            Next page
          </button>
        </div>
      </>
    );
  }
}

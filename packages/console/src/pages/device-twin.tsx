/**
 * A device's twin: versions, tags and desired properties to edit (saved as a merge patch with
 * If-Match, so a change made meanwhile by anyone else is refused with 412 instead of overwritten),
 * and the reported and desired properties with when each last changed. The shown twin is read
 * again every few seconds; the edit keeps the version it started from, moving on only past
 * versions that changed nothing but reported properties.
 */
import { useCallback, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { Card, CodeField, ErrorBanner, Outcome } from '../components/common.js';
import { PropertyTable } from '../components/property-table.js';
import { usePoll } from '../poll.js';
import type { Session } from '../session.js';
import { editable, getTwin, type JsonObject, mergePatch, patchTwin, type Twin } from '../twin.js';

const REFRESH_MS = 3000;

const pretty = (o: JsonObject) => JSON.stringify(o, null, 2);

/** The text as a JSON object, or an Error naming the field. */
function parseObject(text: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text.trim() === '' ? '{}' : text);
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${what} must be a JSON object`);
  return value as JsonObject;
}

/** Whether two versions of a twin have the same tags and desired properties. */
function sameEditable(a: Twin, b: Twin): boolean {
  const text = (t: Twin) => JSON.stringify([editable(t.tags), editable(t.properties.desired)]);
  return text(a) === text(b);
}

export function DeviceTwin({ session, deviceId }: { session: Session; deviceId: string }) {
  const { api } = session;
  const [shown, setShown] = useState<Twin | null>(null);
  /** The twin the edit started from: its etag goes in If-Match. */
  const [base, setBase] = useState<Twin | null>(null);
  const [tags, setTags] = useState('');
  const [desired, setDesired] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [conflict, setConflict] = useState(false);
  const [notice, setNotice] = useState('');
  const canWrite = session.can('ServiceConnect');

  const baseRef = useRef<Twin | null>(null);
  const startFrom = (t: Twin) => {
    baseRef.current = t;
    setBase(t);
    setTags(pretty(editable(t.tags)));
    setDesired(pretty(editable(t.properties.desired)));
    setConflict(false);
  };
  const load = useCallback(async () => {
    try {
      const t = await getTwin(api, deviceId);
      setShown(t);
      const b = baseRef.current;
      if (!b) startFrom(t);
      else if (sameEditable(b, t)) {
        // Only reported properties changed: the edit is still based on the tags and desired
        // properties shown, so it takes the new etag (a device reporting often must not block it).
        baseRef.current = t;
        setBase(t);
      }
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  }, [api, deviceId]);
  usePoll(load, REFRESH_MS);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!base) return;
    setError(null);
    setNotice('');
    try {
      const tagPatch = mergePatch(editable(base.tags), parseObject(tags, 'Tags'));
      const desiredPatch = mergePatch(editable(base.properties.desired), parseObject(desired, 'Desired properties'));
      if (!tagPatch && !desiredPatch) {
        setNotice('Nothing to save: the tags and desired properties are as loaded');
        return;
      }
      const patch: JsonObject = {};
      if (tagPatch) patch.tags = tagPatch;
      if (desiredPatch) patch.properties = { desired: desiredPatch };
      const saved = await patchTwin(api, deviceId, patch, base.etag);
      setShown(saved);
      startFrom(saved);
      setNotice(`Saved: the twin is at version ${saved.version}`);
    } catch (err) {
      setError(err);
      const conflicted = err instanceof ApiError && err.status === 412;
      setConflict(conflicted);
      // Show the twin that won, so the message can say which version it is now.
      if (conflicted) await load();
    }
  };

  if (!shown || !base) return <ErrorBanner error={loadError} />;
  const changed = shown.version !== base.version;
  return (
    <>
      <Outcome errors={[error, loadError]} clear={[setError, setLoadError]} notice={notice} />
      <dl class="figures inline" aria-label="Twin versions">
        <dt>Twin version</dt>
        <dd data-testid="twin-version">{shown.version}</dd>
        <dt>ETag</dt>
        <dd>
          <code>{shown.etag}</code>
        </dd>
        <dt>Desired $version</dt>
        <dd>{String(shown.properties.desired.$version ?? '—')}</dd>
        <dt>Reported $version</dt>
        <dd data-testid="reported-version">{String(shown.properties.reported.$version ?? '—')}</dd>
      </dl>
      <Card title="Edit tags and desired properties">
        {conflict && (
          <p class="error" data-testid="twin-conflict">
            Not saved: the twin changed after you loaded it (you edited version {base.version}; it is now version{' '}
            {shown.version}). Your text is kept; press “Start again from the current twin” to edit the latest one.
          </p>
        )}
        {changed && !conflict && (
          <p class="note">
            The twin changed since this edit began (version {base.version}, now {shown.version}); saving will be
            refused.
          </p>
        )}
        <form aria-label="Edit the twin" onSubmit={save}>
          <div class="cols">
            <CodeField id="twin-tags" label="Tags (JSON)" rows={8} value={tags} onInput={setTags} />
            <CodeField
              id="twin-desired"
              label="Desired properties (JSON)"
              rows={8}
              value={desired}
              onInput={setDesired}
            />
          </div>
          <div class="toolbar">
            <button type="submit" disabled={!canWrite}>
              Save twin
            </button>
            <button
              type="button"
              class="small"
              onClick={async () => {
                setError(null);
                setNotice('');
                try {
                  const t = await getTwin(api, deviceId);
                  setShown(t);
                  startFrom(t);
                } catch (err) {
                  setError(err);
                }
              }}
            >
              Start again from the current twin
            </button>
            {!canWrite && <span class="note">Saving needs ServiceConnect.</span>}
          </div>
        </form>
      </Card>
      <Card title="Reported properties">
        <PropertyTable label="Reported properties" section={shown.properties.reported} />
      </Card>
      <Card title="Desired properties">
        <PropertyTable label="Desired properties" section={shown.properties.desired} />
      </Card>
    </>
  );
}

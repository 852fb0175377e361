/**
 * IoT Hub's device query (POST /devices/query): a query box, its results page by page
 * (x-ms-continuation), and a refused query's error with a caret under the position it names.
 */
import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { deviceHref } from '../route.js';
import type { Session } from '../session.js';
import { errorPosition, type JsonObject, type QueryPage, queryDevices } from '../twin.js';
import { Card, CodeField, ErrorBanner } from './common.js';

const PAGE_SIZE = 20;

/** The query's line that the error names, and a caret under its position. */
function Caret({ query, error }: { query: string; error: unknown }) {
  const at = error instanceof ApiError ? errorPosition(error.message) : undefined;
  const line = at && query.split('\n')[at.line - 1];
  if (!at || line === undefined) return null;
  return (
    <figure data-testid="query-caret">
      <pre class="caret" aria-hidden="true">
        {line}
        {'\n'}
        {`${' '.repeat(Math.max(0, at.column - 1))}^`}
      </pre>
      <figcaption class="note">
        The error is at line {at.line}, position {at.column}.
      </figcaption>
    </figure>
  );
}

export function QueryBox({ session }: { session: Session }) {
  const [text, setText] = useState('SELECT * FROM devices');
  /** The query the shown page belongs to, and the continuation tokens of the pages before it. */
  const [ran, setRan] = useState<{ query: string; trail: string[]; current: string } | null>(null);
  const [page, setPage] = useState<QueryPage | null>(null);
  const [error, setError] = useState<unknown>(null);

  const run = async (query: string, trail: string[], current: string) => {
    setError(null);
    try {
      setPage(await queryDevices(session.api, query, PAGE_SIZE, current || undefined));
      setRan({ query, trail, current });
    } catch (err) {
      setError(err);
      setPage(null);
      setRan({ query, trail: [], current: '' });
    }
  };

  return (
    <Card title="Query devices">
      <form
        aria-label="Query devices"
        onSubmit={(e) => {
          e.preventDefault();
          void run(text, [], '');
        }}
      >
        <CodeField id="query-text" label="Query" rows={2} value={text} onInput={setText} />
        <button type="submit">Run query</button>
      </form>
      <ErrorBanner error={error} />
      {ran && <Caret query={ran.query} error={error} />}
      {page && <Results page={page} />}
      {ran && page && (
        <div class="pager">
          <button
            type="button"
            disabled={ran.trail.length === 0}
            onClick={() => void run(ran.query, ran.trail.slice(0, -1), ran.trail[ran.trail.length - 1] ?? '')}
          >
            Previous results
          </button>
          <button
            type="button"
            disabled={!page.next}
            onClick={() => void run(ran.query, [...ran.trail, ran.current], page.next!)}
          >
            Next results
          </button>
        </div>
      )}
    </Card>
  );
}

function Results({ page }: { page: QueryPage }) {
  if (page.items.length === 0) return <p class="note">No results.</p>;
  const twins = page.itemType === 'Twin';
  const columns = twins
    ? ['deviceId', 'status', 'connectionState', 'version', 'tags']
    : [...new Set(page.items.flatMap((i) => Object.keys(i)))];
  return (
    <div class="table-wrap">
      <table aria-label="Query results" data-item-type={page.itemType}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {page.items.map((item, i) => (
            <tr key={twins ? String(item.deviceId) : i}>
              {columns.map((c) => (
                <td key={c}>{cell(item, c, twins)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function cell(item: JsonObject, column: string, twins: boolean) {
  const v = item[column];
  if (twins && column === 'deviceId') return <a href={deviceHref(String(v))}>{String(v)}</a>;
  if (v === undefined) return '—';
  return typeof v === 'string' || typeof v === 'number' ? String(v) : <code>{JSON.stringify(v)}</code>;
}

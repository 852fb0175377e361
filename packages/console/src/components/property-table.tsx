/** A twin's properties section as a table: each property's path, value and when it last changed. */
import type { JsonObject } from '../twin.js';
import { propertyRows } from '../twin.js';
import { when } from './common.js';
import { Table } from './table.js';

export function PropertyTable({ label, section }: { label: string; section: JsonObject | undefined }) {
  const rows = propertyRows(section);
  if (rows.length === 0) return <p class="note">No {label.toLowerCase()}.</p>;
  const desired = rows.some((r) => r.lastUpdatedVersion !== undefined);
  return (
    <Table label={label} columns={['Property', 'Value', 'Last updated', desired && 'Set by version']}>
      {rows.map((r) => (
        <tr key={r.path}>
          <th scope="row">
            <code>{r.path}</code>
          </th>
          <td>
            <code>{JSON.stringify(r.value)}</code>
          </td>
          <td>{when(r.lastUpdated)}</td>
          {desired && <td>{r.lastUpdatedVersion ?? '—'}</td>}
        </tr>
      ))}
    </Table>
  );
}

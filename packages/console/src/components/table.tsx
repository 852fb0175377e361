/** A data table: scrolls sideways on a narrow screen, column headers from a list, rows as children. */
import type { ComponentChildren } from 'preact';

export function Table({
  label,
  columns,
  testId,
  children,
}: {
  /** The accessible name (tests find the table by it). */
  label?: string;
  /** Header texts; `false` leaves a column out. */
  columns: ReadonlyArray<string | false>;
  testId?: string;
  children: ComponentChildren;
}) {
  return (
    <div class="table-wrap">
      <table aria-label={label} data-testid={testId}>
        <thead>
          <tr>
            {columns.map(
              (c) =>
                c !== false && (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** What any hash the console has no page for shows: what was asked for, and the ways back. */

export function NotFoundPage({ hash }: { hash: string }) {
  return (
    <section aria-labelledby="not-found-title" data-testid="not-found">
      <h1 id="not-found-title">Not found</h1>
      <p>
        The console has no page at <code>{hash.slice(0, 200)}</code>.
      </p>
      <p>
        <a href="#/">Back to the overview</a> · <a href="#/devices">Devices</a> · <a href="#/feedback">Feedback</a>
      </p>
    </section>
  );
}

/**
 * Jobs (GET /jobs/v2/query, read again every 2 s): each job's type, status and progress over its
 * devices, with Cancel for a job not yet ended. Jobs are created with azure-iothub's JobClient,
 * Ferry's SDK or the CLI.
 */
import { useCallback, useState } from 'preact/hooks';
import { Outcome, when } from '../components/common.js';
import { Table } from '../components/table.js';
import { cancelJob, type Job, listJobs } from '../extensions.js';
import { usePoll } from '../poll.js';
import type { Session } from '../session.js';

const REFRESH_MS = 2000;
const ENDED = new Set(['completed', 'failed', 'cancelled']);

/** `done of total` with the failures, and a progress bar's value. */
function Progress({ job }: { job: Job }) {
  const s = job.deviceJobStatistics;
  if (!s) return <>—</>;
  const done = s.succeededCount + s.failedCount + (s.cancelledCount ?? 0);
  return (
    <>
      <progress max={Math.max(1, s.deviceCount)} value={done} aria-label={`Progress of ${job.jobId}`} />{' '}
      <span>
        {done} of {s.deviceCount} · {s.succeededCount} succeeded · {s.failedCount} failed
        {s.cancelledCount ? ` · ${s.cancelledCount} cancelled` : ''}
      </span>
    </>
  );
}

export function JobsPage({ session }: { session: Session }) {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const canRead = session.can('RegistryRead');
  const load = useCallback(async () => {
    if (!canRead) return;
    try {
      setJobs(await listJobs(session.api));
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  }, [session, canRead]);
  usePoll(load, REFRESH_MS);

  const cancel = async (job: Job) => {
    setError(null);
    setNotice('');
    try {
      const after = await cancelJob(session.api, job.jobId);
      await load();
      setNotice(`Job ${job.jobId} is ${after.status}`);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <div>
      <h1>Jobs</h1>
      {!canRead && <p class="note">Jobs need RegistryRead (this policy has not).</p>}
      <Outcome errors={[error, loadError]} clear={[setError, setLoadError]} notice={notice} />
      {jobs?.length === 0 && <p class="note">No jobs.</p>}
      {jobs && jobs.length > 0 && (
        <Table
          label="Jobs"
          columns={['Job id', 'Type', 'Status', 'Devices', 'Progress', 'Started', 'Ended', 'Actions']}
        >
          {jobs.map((j) => (
            <tr key={j.jobId}>
              <th scope="row">
                <code>{j.jobId}</code>
              </th>
              <td>{j.type}</td>
              <td data-testid="job-status">{j.status}</td>
              <td>
                <code>{j.queryCondition ?? '—'}</code>
              </td>
              <td>
                <Progress job={j} />
              </td>
              <td>{when(j.startTime)}</td>
              <td>{when(j.endTime)}</td>
              <td>
                <button
                  type="button"
                  class="small danger"
                  disabled={ENDED.has(j.status) || !session.can('RegistryWrite')}
                  onClick={() => void cancel(j)}
                >
                  Cancel
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}

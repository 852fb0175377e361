/**
 * Hub-wide pending C2D messages (Enqueued, Invisible) and feedback records, kept in memory so a
 * scrape reads numbers instead of counting rows. Seeded by one store count at start-up (what a
 * previous run left), then moved by every group this node commits, from the results the engine
 * already has: an enqueue adds one, a lease moves its deliveries from Enqueued to Invisible, a
 * settle takes one off Invisible (an abandon puts it back in Enqueued), and so on.
 *
 * Some changes are not told by the results: a deadline applied lazily by an op (a lock or TTL
 * already due when the op touched the device), how a purge or a TTL expiry divides between the
 * two states, a deleted device's queue, and, on several nodes, the other nodes' commits. So the
 * counts are recounted from the store in the background: soon after an op whose split was
 * guessed, every minute while this node commits (every 15 s on several nodes), never at a scrape
 * and never while the hub is idle on one node.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { CommitResult, QueueOp, QueueOpResult } from '../store/types.js';

export interface PendingSource {
  queueTotals(now: number): Promise<{ enqueued: number; invisible: number }>;
  pendingFeedbackRecords(now: number): Promise<number>;
}

export interface PendingFigures {
  enqueued: number;
  invisible: number;
  feedbackRecords: number;
}

/** Recount while this node commits (one node: only lazily applied deadlines and deletes drift). */
export const RECOUNT_MS = 60_000;
/** On several nodes the others' commits move the counts too. */
export const CLUSTER_RECOUNT_MS = 15_000;
/** After an op whose effect on the two states was guessed (purge, TTL expiry). */
export const UNSURE_RECOUNT_MS = 5_000;
/** Feedback leases remembered (lock token -> records) until settled; a bound against lost locks. */
const MAX_FEEDBACK_LEASES = 10_000;

export class PendingCounts {
  private enqueued = 0;
  private invisible = 0;
  private feedback = 0;
  /** Records in each feedback batch leased by this node, by lock token, until it is settled. */
  private readonly feedbackLeases = new Map<string, number>();
  /** Something was committed since the last recount. */
  private changed = false;
  /** Changes applied while a recount's query runs, added to what it counted. */
  private during: PendingFigures | undefined;
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private source: PendingSource | undefined;
  private clock: Clock | undefined;
  private periodMs = RECOUNT_MS;
  private stopped = false;
  /** Recounts done (for tests). */
  recounts = 0;

  get figures(): PendingFigures {
    return {
      enqueued: Math.max(0, this.enqueued),
      invisible: Math.max(0, this.invisible),
      feedbackRecords: Math.max(0, this.feedback),
    };
  }

  /**
   * Seeds the counts from the store and recounts in the background from then on.
   * `cluster`: other nodes commit too, so recount on a timer even when this node is idle.
   */
  async start(source: PendingSource, clock: Clock, cluster: boolean, onError: (err: unknown) => void): Promise<void> {
    this.source = source;
    this.clock = clock;
    this.periodMs = cluster ? CLUSTER_RECOUNT_MS : RECOUNT_MS;
    this.onError = onError;
    this.stopped = false;
    await this.recount();
    this.arm(this.periodMs);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /** One committed group: its ops and their results, in order. */
  apply(ops: readonly QueueOp[], result: CommitResult): void {
    const results = result.results;
    let unsure = false;
    for (let i = 0; i < ops.length; i++) {
      const r = results[i];
      if (r === undefined || !r.ok) continue;
      unsure = this.applyOne(ops[i]!, r) || unsure;
    }
    const records = result.feedbackRecords?.length ?? 0;
    if (records > 0) this.add(0, 0, records);
    this.changed = true;
    if (unsure) this.arm(UNSURE_RECOUNT_MS);
  }

  /** Applies one successful op; true when its split between the states was guessed. */
  private applyOne(op: QueueOp, r: Extract<QueueOpResult, { ok: true }>): boolean {
    switch (op.kind) {
      case 'enqueue':
      case 'requeueDeadLetter':
        this.add(1, 0, 0);
        return false;
      case 'deleteDeadLetter':
        return false;
      case 'lease': {
        const n = 'deliveries' in r ? r.deliveries.length : 0;
        if (n > 0) this.add(-n, n, 0);
        return false;
      }
      case 'settle':
        if ('outcome' in r) this.add(r.outcome === 'requeued' ? 1 : 0, -1, 0);
        return false;
      case 'release':
        if ('released' in r && r.released > 0) this.add(r.released, -r.released, 0);
        return false;
      case 'purge':
        return 'purged' in r && this.remove(r.purged);
      case 'expire': {
        if (!('expired' in r)) return false;
        if (r.locksExpired > 0) this.add(r.locksExpired, -r.locksExpired, 0);
        return this.remove(r.expired) || r.locksExpired > 0;
      }
      case 'leaseFeedback':
        if ('batch' in r && r.batch) {
          if (this.feedbackLeases.size >= MAX_FEEDBACK_LEASES) this.feedbackLeases.clear();
          this.feedbackLeases.set(r.batch.lockToken, r.batch.records.length);
        }
        return false;
      case 'settleFeedback': {
        const n = this.feedbackLeases.get(op.lockToken);
        this.feedbackLeases.delete(op.lockToken);
        if (n !== undefined && op.action !== 'abandon') this.add(0, 0, -n);
        return false;
      }
    }
  }

  /** `n` pending messages gone, state unknown: taken from Enqueued first. True when n > 0. */
  private remove(n: number): boolean {
    if (n <= 0) return false;
    const fromEnqueued = Math.min(n, Math.max(0, this.enqueued));
    this.add(-fromEnqueued, -(n - fromEnqueued), 0);
    return true;
  }

  private add(enqueued: number, invisible: number, feedback: number): void {
    this.enqueued += enqueued;
    this.invisible += invisible;
    this.feedback += feedback;
    if (this.during) {
      this.during.enqueued += enqueued;
      this.during.invisible += invisible;
      this.during.feedbackRecords += feedback;
    }
  }

  private onError: (err: unknown) => void = () => undefined;

  /** Count from the store; what is committed meanwhile is added to what it counted. */
  private async recount(): Promise<void> {
    const { source, clock } = this;
    if (!source || !clock || this.during) return;
    const during: PendingFigures = { enqueued: 0, invisible: 0, feedbackRecords: 0 };
    this.during = during;
    this.changed = false;
    try {
      const now = clock.now();
      const [queues, feedback] = await Promise.all([source.queueTotals(now), source.pendingFeedbackRecords(now)]);
      this.enqueued = queues.enqueued + during.enqueued;
      this.invisible = queues.invisible + during.invisible;
      this.feedback = feedback + during.feedbackRecords;
      this.recounts++;
    } finally {
      this.during = undefined;
    }
  }

  /** The next recount at most `ms` from now. */
  private arm(ms: number): void {
    const { clock } = this;
    if (!clock || this.stopped) return;
    const at = clock.now() + ms;
    if (at >= this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = clock.setTimer(() => this.due(), ms);
  }

  private due(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.stopped) return;
    const cluster = this.periodMs === CLUSTER_RECOUNT_MS;
    if (!this.changed && !cluster) {
      this.arm(this.periodMs);
      return;
    }
    this.recount().then(
      () => this.arm(this.periodMs),
      (err: unknown) => {
        this.onError(err);
        this.arm(this.periodMs);
      },
    );
  }
}

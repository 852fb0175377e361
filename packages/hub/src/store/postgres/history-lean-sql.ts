/**
 * The message history, leaner on PostgreSQL (migration 16, issue 28): a pending copy's steps live
 * in its message row (c2d_messages.steps) and an ended copy is one c2d_history row, its ending
 * step, carrying the steps before it (c2d_history.earlier), instead of a row and an index entry
 * per step. What messageHistory answers is unchanged (inspection-queries.ts reads both).
 *
 * Steps are JSON arrays [kind, at, deliveryCount, lockToken, via, detail], newest first, so a
 * lease's update of the row (which prepends its "delivered") leaves the older steps at the end of
 * the tuple, where WAL's prefix/suffix compression of an update on the same page skips them.
 * Before (wal-probe, 200 devices, history on): the history wrote 2 rows per send and lease and 3
 * records per complete, about 855 B of 2,531 WAL bytes per message.
 *
 * Writers: ferry_commit_lean (sends, leases, completes), and migration 11's wrappers rewritten:
 * ferry_finish (the ending row with the earlier steps), ferry_requeue (abandoned, released,
 * lockExpired prepended to the row), ferry_apply (a job's or a requeued dead letter's enqueued,
 * ferry_commit's leases). A requeued dead letter's "requeued" stays a row of its own (its copy has
 * ended already). Rows written per step before this migration (or by a node not yet upgraded) read
 * as before.
 */

/** ferry_token(id) inline (as in hot-path-lean-sql.ts). */
const TOKEN = (id: string) =>
  `overlay(left(gen_random_uuid()::text, 24) placing 'f' from 15) || lpad(to_hex(${id}), 12, '0')`;

const NULLS_AFTER_TOKEN = `NULL::integer, NULL::boolean, NULL::text, NULL::text, NULL::text, NULL::text,
      NULL::text, NULL::text, NULL::bigint, NULL::boolean, NULL::bigint, NULL::text, NULL::bytea, NULL::text[],
      NULL::boolean, NULL::bigint, NULL::text[]`;

export const HISTORY_LEAN_SQL = `
ALTER TABLE c2d_messages ADD COLUMN steps text;
-- Room on the page for a lease's update of a message just sent: WAL then logs only what changed.
ALTER TABLE c2d_messages SET (fillfactor = 60);
ALTER TABLE c2d_history ADD COLUMN earlier text;

-- One step as c2d_messages.steps and c2d_history.earlier hold it.
CREATE FUNCTION ferry_step(p_kind text, p_at bigint, p_count integer, p_tok text, p_via text, p_detail text)
RETURNS text LANGUAGE sql STABLE AS $$
  -- json_build_array's text puts a space after every comma: these are written for every message
  SELECT '[' || to_json(p_kind)::text || ',' || p_at || ',' || p_count || ',' || coalesce(to_json(p_tok)::text, 'null')
    || ',' || coalesce(to_json(p_via)::text, 'null') || ',' || coalesce(to_json(p_detail)::text, 'null') || ']'
$$;

-- A copy's steps with one more, newest first. Each parameter used once, so it is inlined.
CREATE FUNCTION ferry_steps_add(p_steps text, p_step text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT '[' || p_step || coalesce(',' || substr(p_steps, 2), ']')
$$;

CREATE OR REPLACE FUNCTION ferry_finish(p_ids bigint[], p_status text, p_now_iso text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  h jsonb := ferry_history_op();
BEGIN
  IF h IS NOT NULL AND cardinality(p_ids) > 0 THEN
    INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, detail, earlier)
    SELECT m.device_id, m.message_id, m.seq,
      CASE p_status WHEN 'Success' THEN 'completed' WHEN 'Rejected' THEN 'rejected' WHEN 'Expired' THEN 'expired'
        WHEN 'Purged' THEN 'purged' ELSE 'deadLettered' END,
      (h->>'now')::bigint,
      -- the abandon that dead-letters a message counts, as on SQLite
      m.delivery_count + CASE WHEN p_status = 'DeliveryCountExceeded' THEN 1 ELSE 0 END,
      true,
      CASE WHEN ferry_wants(m.ack, p_status) THEN json_build_object('feedback', json_build_object(
        'originalMessageId', m.message_id, 'enqueuedTimeUtc', p_now_iso, 'statusCode', p_status,
        'description', p_status, 'deviceId', m.device_id, 'deviceGenerationId', coalesce(d.generation_id, '')))::text
      END,
      m.steps
    FROM c2d_messages m LEFT JOIN devices d ON d.device_id = m.device_id
    WHERE m.id = ANY(p_ids) AND m.message_id IS NOT NULL ORDER BY m.device_id, m.seq;
    IF FOUND THEN PERFORM set_config('ferry.history_ended', '1', true); END IF;
  END IF;
  RETURN ferry_finish_unrecorded(p_ids, p_status, p_now_iso);
END $$;

CREATE OR REPLACE FUNCTION ferry_requeue(p_ids bigint[], p_inc integer, p_max integer, p_now_iso text,
  OUT woken text[], OUT appended integer) LANGUAGE plpgsql AS $$
DECLARE
  h jsonb := ferry_history_op();
  r record;
BEGIN
  IF h IS NOT NULL AND cardinality(p_ids) > 0 THEN
    -- The step goes on the copy's row whether it stays or is dead-lettered (its ending row takes the steps).
    UPDATE c2d_messages SET steps = ferry_steps_add(steps, ferry_step(
      CASE WHEN locked_until <= (h->>'now')::bigint THEN 'lockExpired' WHEN h->>'k' = 'settle' THEN 'abandoned'
        ELSE 'released' END,
      (h->>'now')::bigint, delivery_count + p_inc, NULL, NULL, NULL))
    WHERE id = ANY(p_ids) AND message_id IS NOT NULL;
  END IF;
  SELECT * INTO r FROM ferry_requeue_unrecorded(p_ids, p_inc, p_max, p_now_iso);
  woken := r.woken;
  appended := r.appended;
END $$;

CREATE OR REPLACE FUNCTION ferry_apply(p_op jsonb, p_body bytea, p_now bigint, p_now_iso text, p_policy jsonb,
  OUT result jsonb, OUT woken text[], OUT appended integer, OUT available boolean, OUT deadline bigint)
LANGUAGE plpgsql AS $$
DECLARE
  kind text := p_op->>'k';
  dev text := p_op->>'d';
  retention bigint := coalesce((p_policy->'history'->>'retentionMs')::bigint, 0);
  dl c2d_dead_letters;
  n integer;
BEGIN
  PERFORM set_config('ferry.history', CASE WHEN retention > 0 THEN
    jsonb_build_object('k', kind, 'now', p_now)::text ELSE '' END, true);
  PERFORM set_config('ferry.history_ended', '', true);
  IF kind = 'requeueDeadLetter' AND retention > 0 THEN
    SELECT * INTO dl FROM c2d_dead_letters WHERE device_id = dev AND seq = (p_op->>'seq')::bigint;
  END IF;
  SELECT * INTO result, woken, appended, available, deadline
    FROM ferry_apply_unrecorded(p_op, p_body, p_now, p_now_iso, p_policy);
  IF retention > 0 AND (result->>'ok')::boolean THEN
    IF kind = 'enqueue' AND p_op->>'messageId' IS NOT NULL THEN
      UPDATE c2d_messages SET steps = ferry_steps_add(steps, ferry_step('enqueued', p_now, 0, NULL, p_op->>'policy',
          CASE WHEN p_op->>'job' IS NOT NULL THEN json_build_object('jobId', p_op->>'job')::text END))
      WHERE device_id = dev AND seq = (result->>'sequenceNumber')::bigint;
    ELSIF kind = 'requeueDeadLetter' AND dl.message_id IS NOT NULL THEN
      UPDATE c2d_messages SET steps = ferry_steps_add(steps, ferry_step('enqueued', p_now, 0, NULL, NULL,
          json_build_object('requeuedFrom', dl.seq)::text))
      WHERE device_id = dev AND seq = (result->>'sequenceNumber')::bigint;
      INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, detail) VALUES
        (dev, dl.message_id, dl.seq, 'requeued', p_now, dl.delivery_count, true,
          json_build_object('requeuedAs', (result->>'sequenceNumber')::bigint)::text);
      PERFORM set_config('ferry.history_ended', '1', true);
    ELSIF kind = 'lease' THEN
      UPDATE c2d_messages m SET steps = ferry_steps_add(m.steps, ferry_step('delivered', p_now,
          (x->>'deliveryCount')::integer, x->>'lockToken', p_op->>'protocol', NULL))
      FROM jsonb_array_elements(result->'deliveries') x
      WHERE m.device_id = dev AND m.seq = (x->>'seq')::bigint AND x->>'messageId' IS NOT NULL;
    END IF;
  END IF;
  IF kind = 'expire' THEN
    WITH ended AS (
      SELECT device_id, message_id, seq FROM c2d_history WHERE final AND at <= p_now - retention
      ORDER BY at LIMIT (p_op->>'limit')::integer FOR UPDATE SKIP LOCKED
    ), gone AS (
      DELETE FROM c2d_history h USING ended e
      WHERE h.device_id = e.device_id AND h.message_id = e.message_id AND h.seq = e.seq
    )
    SELECT count(*) INTO n FROM ended;
    IF n = (p_op->>'limit')::integer THEN result := jsonb_set(result, '{more}', 'true'); END IF;
  END IF;
  IF current_setting('ferry.history_ended', true) = '1' THEN
    deadline := least(deadline, p_now + retention);
  END IF;
  PERFORM set_config('ferry.history', '', true);
END $$;

CREATE OR REPLACE FUNCTION ferry_commit_lean(
  e_op integer[], e_dev text[], e_mid text[], e_cid text[], e_uid text[], e_ctype text[], e_cenc text[],
  e_ack text[], e_expiry bigint[], e_defexp boolean[], e_props text[], e_body bytea[], e_via text[],
  e_lease integer[], e_lvia text[],
  l_op integer[], l_dev text[], l_max integer[], l_via text[],
  c_op integer[], c_dev text[], c_tok text[],
  p_now bigint, p_now_iso text, p_policy jsonb, p_channel text, p_node text)
RETURNS TABLE (op integer, code text, seq bigint, src integer, lock_token text, delivery_count integer,
  redelivered boolean, message_id text, correlation_id text, user_id text, content_type text,
  content_encoding text, ack text, expiry bigint, default_expiry boolean, enqueued_at bigint, properties text,
  body bytea, woken text[], available boolean, earliest bigint, records text[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  lock_ms bigint := (p_policy->>'lockTimeoutMs')::bigint;
  depth_max bigint := (p_policy->>'maxQueueDepth')::bigint;
  delay bigint := (p_policy->'feedback'->>'batchDelayMs')::bigint;
  retention bigint := coalesce((p_policy->'history'->>'retentionMs')::bigint, 0);
  r_op integer[];
  r_code text[];
  r_seq bigint[];
  r_lease integer[];
  r_tok text[];
  direct_devs text[] := '{}';
  v_woken text[] := '{}';
  v_available boolean := false;
  v_earliest bigint;
  v_records text[];
  v_ended boolean;
  n integer;
BEGIN
  IF EXISTS (SELECT 1 FROM c2d_messages m WHERE m.device_id = ANY(e_dev || l_dev || c_dev)
      AND (m.expiry <= p_now OR m.locked_until <= p_now)) THEN
    RETURN QUERY SELECT 0, 'due', NULL::bigint, NULL::integer, NULL::text, ${NULLS_AFTER_TOKEN};
    RETURN;
  END IF;

  IF cardinality(e_op) > 0 THEN
    -- The rows of the devices sent to, locked in id order so two groups never wait on each other in
    -- a cycle; the next statement then sees every send other nodes committed before (depth, seq).
    PERFORM 1 FROM devices d WHERE d.device_id = ANY(e_dev) ORDER BY d.device_id FOR NO KEY UPDATE;
    WITH e AS (
      SELECT x.j::integer AS j, x.d, row_number() OVER (PARTITION BY x.d ORDER BY x.j) AS r
      FROM unnest(e_dev) WITH ORDINALITY x(d, j)
    ), dv AS (
      SELECT d.device_id AS d, d.next_seq, d.status = 'enabled' AS enabled, c.depth, c.waiting
      FROM devices d CROSS JOIN LATERAL (
        SELECT count(*) AS depth, count(*) FILTER (WHERE m.lock_token IS NULL) AS waiting
        FROM c2d_messages m WHERE m.device_id = d.device_id) c
      WHERE d.device_id = ANY(e_dev)
    ), t AS MATERIALIZED (
      -- Decision 2: locked messages count toward the depth; a refused send takes no number.
      SELECT e.j, e.d, dv.next_seq + e.r - 1 AS seq, coalesce(dv.enabled, false) AS enabled,
        CASE WHEN dv.enabled AND e.r <= depth_max - dv.depth THEN nextval('c2d_messages_id_seq') END AS id,
        CASE WHEN dv.waiting = 0 THEN e_lease[e.j] END AS lease
      FROM e LEFT JOIN dv ON dv.d = e.d
    ), tk AS MATERIALIZED (
      SELECT t.*, CASE WHEN t.id IS NOT NULL AND t.lease IS NOT NULL THEN ${TOKEN('t.id')} END AS tok FROM t
    ), ins AS (
      INSERT INTO c2d_messages (id, device_id, seq, message_id, correlation_id, user_id, content_type,
        content_encoding, ack, expiry, default_expiry, enqueued_at, properties, body, lock_token, locked_until,
        leased_before, steps)
      SELECT t.id, t.d, t.seq, e_mid[t.j], e_cid[t.j], e_uid[t.j], e_ctype[t.j], e_cenc[t.j], e_ack[t.j],
        e_expiry[t.j], e_defexp[t.j], p_now, e_props[t.j], e_body[t.j], t.tok,
        CASE WHEN t.tok IS NOT NULL THEN p_now + lock_ms END, t.tok IS NOT NULL,
        -- the history's steps so far, newest first: enqueued, and delivered to a waiting receiver
        CASE WHEN retention > 0 AND e_mid[t.j] IS NOT NULL THEN '[' ||
          CASE WHEN t.tok IS NOT NULL THEN ferry_step('delivered', p_now, 0, t.tok, e_lvia[t.j], NULL) || ',' ELSE '' END
          || ferry_step('enqueued', p_now, 0, NULL, e_via[t.j], NULL) || ']' END
      FROM tk t WHERE t.id IS NOT NULL ORDER BY t.id
    ), bump AS (
      UPDATE devices d SET next_seq = d.next_seq + a.k
      FROM (SELECT t.d, count(*) AS k FROM t WHERE t.id IS NOT NULL GROUP BY t.d) a WHERE d.device_id = a.d
    )
    SELECT array_agg(e_op[t.j] ORDER BY t.j),
      array_agg(CASE WHEN t.id IS NOT NULL THEN 'ok' WHEN t.enabled THEN 'DeviceMaximumQueueDepthExceeded'
        ELSE 'DeviceNotFound' END ORDER BY t.j),
      array_agg(CASE WHEN t.id IS NOT NULL THEN t.seq END ORDER BY t.j),
      array_agg(CASE WHEN t.tok IS NOT NULL THEN t.lease END ORDER BY t.j), array_agg(t.tok ORDER BY t.j),
      coalesce(array_agg(DISTINCT t.d) FILTER (WHERE t.id IS NOT NULL), '{}'),
      min(e_expiry[t.j]) FILTER (WHERE t.id IS NOT NULL),
      coalesce(array_agg(DISTINCT t.d) FILTER (WHERE t.tok IS NOT NULL), '{}')
    INTO r_op, r_code, r_seq, r_lease, r_tok, v_woken, v_earliest, direct_devs
    FROM tk t;

    RETURN QUERY SELECT u.o, u.c, u.s, u.l, u.t, ${NULLS_AFTER_TOKEN}
      FROM unnest(r_op, r_code, r_seq, r_lease, r_tok) u(o, c, s, l, t);
    IF cardinality(direct_devs) > 0 THEN v_earliest := least(v_earliest, p_now + lock_ms); END IF;
  END IF;

  IF cardinality(l_op) > 0 THEN
    -- Leases: each device's lowest-sequence Enqueued messages, as many as its leases ask for, dealt
    -- to them in op order (a per-device array of where each lease's share ends finds the op of the
    -- r-th message). Another node may lease the same device at once (an HTTP receive beside the
    -- device's connection): SKIP LOCKED passes over the rows it holds to the next ones.
    RETURN QUERY
    WITH lr AS (
      SELECT x.o, x.d, x.via, greatest(x.mx, 0) AS room,
        sum(greatest(x.mx, 0)) OVER (PARTITION BY x.d ORDER BY x.o) AS upto
      FROM unnest(l_op, l_dev, l_max, l_via) x(o, d, mx, via) WHERE NOT (x.d = ANY(direct_devs))
    ), per AS (
      SELECT lr.d, sum(lr.room) AS n, array_agg(lr.o ORDER BY lr.o) AS ops, array_agg(lr.upto ORDER BY lr.o) AS ends,
        array_agg(lr.via ORDER BY lr.o) AS vias
      FROM lr GROUP BY lr.d
    ), pick AS (
      SELECT c.id, c.leased_before, k.o, k.via, ${TOKEN('c.id')} AS tok
      FROM per t CROSS JOIN LATERAL (
        SELECT m.id, m.leased_before, row_number() OVER (ORDER BY m.seq) AS r FROM (
          SELECT m.id, m.seq, m.leased_before FROM c2d_messages m
          WHERE m.device_id = t.d AND m.lock_token IS NULL ORDER BY m.seq LIMIT t.n FOR UPDATE SKIP LOCKED) m) c
      CROSS JOIN LATERAL (
        SELECT t.ops[i] AS o, t.vias[i] AS via FROM generate_subscripts(t.ends, 1) i WHERE t.ends[i] >= c.r
        ORDER BY i LIMIT 1) k
    ), locked AS (
      UPDATE c2d_messages m SET lock_token = pick.tok, locked_until = p_now + lock_ms, leased_before = true,
        steps = CASE WHEN retention > 0 AND m.message_id IS NOT NULL
          THEN ferry_steps_add(m.steps, ferry_step('delivered', p_now, m.delivery_count, pick.tok, pick.via, NULL))
          ELSE m.steps END
      FROM pick WHERE m.id = pick.id
      RETURNING m.*, pick.o, pick.leased_before AS was_leased
    )
    SELECT l.o, 'd', l.seq, NULL::integer, l.lock_token, l.delivery_count, l.was_leased, l.message_id,
      l.correlation_id, l.user_id, l.content_type, l.content_encoding, l.ack, l.expiry, l.default_expiry,
      l.enqueued_at, l.properties, l.body, NULL::text[], NULL::boolean, NULL::bigint, NULL::text[]
    FROM locked l ORDER BY l.o, l.seq;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN v_earliest := least(v_earliest, p_now + lock_ms); END IF;
  END IF;

  IF cardinality(c_op) > 0 THEN
    -- Completes: found by row id and token; the second complete of one token in a group loses. Only
    -- the ones that succeed answer a row: the client takes every other complete as lock lost.
    WITH s AS (
      SELECT x.o, x.d, x.t, ('x' || right(x.t, 12))::bit(48)::bigint AS id,
        row_number() OVER (PARTITION BY x.t ORDER BY x.o) AS nth
      FROM unnest(c_op, c_dev, c_tok) x(o, d, t)
    ), gone AS (
      DELETE FROM c2d_messages m USING s
      WHERE s.nth = 1 AND m.id = s.id AND m.lock_token = s.t AND m.device_id = s.d
      RETURNING s.o, m.device_id, m.message_id, m.ack, m.seq, m.delivery_count, m.steps
    ), g AS MATERIALIZED (
      SELECT g.*, CASE WHEN ferry_wants(g.ack, 'Success') THEN json_build_object(
          'originalMessageId', coalesce(g.message_id, ''), 'enqueuedTimeUtc', p_now_iso, 'statusCode', 'Success',
          'description', 'Success', 'deviceId', g.device_id, 'deviceGenerationId', coalesce(d.generation_id, ''))
        END AS rec
      FROM gone g LEFT JOIN devices d ON d.device_id = g.device_id
    ), fb AS (
      INSERT INTO feedback_pending (device_id, record)
      SELECT g.device_id, g.rec::text FROM g WHERE g.rec IS NOT NULL ORDER BY g.device_id, g.seq
      RETURNING id, record
    ), hist AS (
      INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, detail, earlier)
      SELECT g.device_id, g.message_id, g.seq, 'completed', p_now, g.delivery_count, true,
        CASE WHEN g.rec IS NOT NULL THEN json_build_object('feedback', g.rec)::text END, g.steps
      FROM g WHERE retention > 0 AND g.message_id IS NOT NULL ORDER BY g.o
      RETURNING 1
    )
    SELECT (SELECT array_agg(fb.record ORDER BY fb.id) FROM fb), array_agg(g.o), (SELECT count(*) > 0 FROM hist)
    INTO v_records, r_op, v_ended FROM g;
    RETURN QUERY SELECT u.o, 'ok', NULL::bigint, NULL::integer, NULL::text, ${NULLS_AFTER_TOKEN}
      FROM unnest(r_op) u(o);
    -- an ended copy's history is due for removal after the retention
    IF v_ended THEN v_earliest := least(v_earliest, p_now + retention); END IF;
    IF v_records IS NOT NULL THEN
      v_available := ferry_make_batches(p_now, p_policy);
      -- Records left waiting are due for a batch at once or batchDelay after the last one.
      IF EXISTS (SELECT 1 FROM feedback_pending) THEN
        v_earliest := least(v_earliest, CASE WHEN delay = 0 THEN p_now ELSE
          coalesce((SELECT h.value FROM hub_state h WHERE h.key = 'feedback.lastBatchAt') + delay, p_now) END);
      END IF;
      IF v_available THEN v_earliest := least(v_earliest, p_now + (p_policy->'feedback'->>'ttlMs')::bigint); END IF;
    END IF;
  END IF;

  IF p_channel IS NOT NULL THEN
    PERFORM pg_notify(p_channel, p_node || '|w|' || w) FROM unnest(v_woken) w;
    IF v_available THEN PERFORM pg_notify(p_channel, p_node || '|f|'); END IF;
  END IF;
  RETURN QUERY SELECT 0, 'commit', NULL::bigint, NULL::integer, NULL::text, NULL::integer, NULL::boolean, NULL::text,
    NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::boolean, NULL::bigint, NULL::text,
    NULL::bytea, v_woken, v_available, v_earliest, v_records;
END $$;
`;

/**
 * The hot path's second form (migration 14, issue 28): ferry_commit_lean takes the group's sends,
 * leases and completes as arrays of their own (each element carries its op's index in the group)
 * instead of one set of arrays filtered by kind, and records the message history in the same
 * statements, so a group is still one call, now without the wrapper of migration 11.
 *
 * Why: filtering one array by kind (`WHERE k = 'e'`) made the planner expect one row where there
 * were hundreds, so it joined the group's CTEs by nested loops: 200 sends compared 40,000 pairs in
 * each of four joins (pg_stat_statements: 13 ms per group of 50 sends; auto_explain: 57 ms of
 * 78 ms for 200, 378 ms for 200 sends with direct leases). Here unnest has nothing to filter, so
 * its row estimate is the array's length, and the statements join nothing by key that a lookup
 * by array index or a per-device array can do instead.
 *
 * Rules, unchanged from ferry_commit_hot (hot-path-sql.ts), which stays for nodes not yet upgraded:
 * per device sends before leases before completes; every complete's token minted here (its last
 * 12 hex digits are the row id); nothing due for the group's devices, or the answer is 'due' and
 * nothing is written. The client (hot-path.ts) assigns each send its direct lease (`e_lease`, the
 * lease op whose receiver waits, by the send's rank among its device's sends and the leases'
 * room); the server keeps it only when the send is accepted and nothing else of the device is
 * Enqueued. Lock tokens are made inline (ferry_token's form, no function call per row).
 *
 * History (docs/message-history.md, history-sql.ts): "enqueued" (the sending policy) and, for a
 * direct lease, "delivered" (the lease's protocol) with each accepted send; "delivered" with each
 * lease; "completed" (with the feedback record its ack asked for) with each complete. Messages
 * without an id are not recorded; retention 0 records nothing.
 *
 * devices gets fillfactor 70: every send updates its device's next_seq, and room on the page
 * keeps that update HOT (no new devices_pkey entry, less WAL).
 */
const NULLS_AFTER_TOKEN = `NULL::integer, NULL::boolean, NULL::text, NULL::text, NULL::text, NULL::text,
      NULL::text, NULL::text, NULL::bigint, NULL::boolean, NULL::bigint, NULL::text, NULL::bytea, NULL::text[],
      NULL::boolean, NULL::bigint, NULL::text[]`;

/** ferry_token(id) inline: a random UUID whose version digit is 'f' and last 12 hex digits the row id. */
const TOKEN = (id: string) =>
  `overlay(left(gen_random_uuid()::text, 24) placing 'f' from 15) || lpad(to_hex(${id}), 12, '0')`;

export const HOT_PATH_LEAN_SQL = `
ALTER TABLE devices SET (fillfactor = 70);

CREATE FUNCTION ferry_commit_lean(
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
        leased_before)
      SELECT t.id, t.d, t.seq, e_mid[t.j], e_cid[t.j], e_uid[t.j], e_ctype[t.j], e_cenc[t.j], e_ack[t.j],
        e_expiry[t.j], e_defexp[t.j], p_now, e_props[t.j], e_body[t.j], t.tok,
        CASE WHEN t.tok IS NOT NULL THEN p_now + lock_ms END, t.tok IS NOT NULL
      FROM tk t WHERE t.id IS NOT NULL ORDER BY t.id
    ), bump AS (
      UPDATE devices d SET next_seq = d.next_seq + a.k
      FROM (SELECT t.d, count(*) AS k FROM t WHERE t.id IS NOT NULL GROUP BY t.d) a WHERE d.device_id = a.d
    ), hist AS (
      INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, lock_token, via)
      SELECT t.d, e_mid[t.j], t.seq, s.kind, p_now, 0, false, s.tok, s.via
      FROM tk t CROSS JOIN LATERAL (VALUES (0, 'enqueued', NULL::text, e_via[t.j]),
        (1, 'delivered', t.tok, e_lvia[t.j])) s(sub, kind, tok, via)
      WHERE retention > 0 AND t.id IS NOT NULL AND e_mid[t.j] IS NOT NULL AND (s.sub = 0 OR t.tok IS NOT NULL)
      ORDER BY t.j, s.sub
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
      SELECT c.id, c.leased_before, k.o, k.via
      FROM per t CROSS JOIN LATERAL (
        SELECT m.id, m.leased_before, row_number() OVER (ORDER BY m.seq) AS r FROM (
          SELECT m.id, m.seq, m.leased_before FROM c2d_messages m
          WHERE m.device_id = t.d AND m.lock_token IS NULL ORDER BY m.seq LIMIT t.n FOR UPDATE SKIP LOCKED) m) c
      CROSS JOIN LATERAL (
        SELECT t.ops[i] AS o, t.vias[i] AS via FROM generate_subscripts(t.ends, 1) i WHERE t.ends[i] >= c.r
        ORDER BY i LIMIT 1) k
    ), locked AS (
      UPDATE c2d_messages m SET lock_token = ${TOKEN('m.id')}, locked_until = p_now + lock_ms, leased_before = true
      FROM pick WHERE m.id = pick.id
      RETURNING m.*, pick.o, pick.via, pick.leased_before AS was_leased
    ), hist AS (
      INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, lock_token, via)
      SELECT l.device_id, l.message_id, l.seq, 'delivered', p_now, l.delivery_count, false, l.lock_token, l.via
      FROM locked l WHERE retention > 0 AND l.message_id IS NOT NULL ORDER BY l.o, l.seq
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
      RETURNING s.o, m.device_id, m.message_id, m.ack, m.seq, m.delivery_count
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
      INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, detail)
      SELECT g.device_id, g.message_id, g.seq, 'completed', p_now, g.delivery_count, true,
        CASE WHEN g.rec IS NOT NULL THEN json_build_object('feedback', g.rec)::text END
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

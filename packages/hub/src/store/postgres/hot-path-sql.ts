/**
 * The hot path of the C2D queues on PostgreSQL (migration 8, issue 28): a group made only of sends,
 * leases and completes is applied by ferry_commit_hot in a few set-based statements, whatever its
 * size, instead of ferry_commit's PL/pgSQL loop over ops (queue-sql.ts), which stays for the rest.
 * The ops travel as parallel arrays (one element per op, unnest WITH ORDINALITY gives its index).
 *
 * What the fast path relies on (postgres/hot-path.ts checks the first three before calling):
 * - per device, sends come before leases and leases before completes (so applying all sends, then
 *   all leases, then all completes is the group's order);
 * - every complete carries a lock token minted here (ferry_token: its last 12 hex digits are the
 *   row id, so the row is found by primary key; its version digit is 'f');
 * - nothing is due for the group's devices (a TTL or a lock past `now`): when something is, the
 *   function writes nothing and answers 'due', and the store runs the group through ferry_commit,
 *   which applies it first as every op must.
 * A send to a device whose leases in the group are all direct (its receiver waits in the engine)
 * and that has nothing else Enqueued is inserted already locked for the lease: no lease statement.
 *
 * Indexes: lock tokens carry the row id and per-device lookups use (device_id, seq), so the
 * lock-token index and the per-device expiry, lock and enqueued indexes go: a send writes three
 * index entries, a lease four, a complete none.
 */
export const HOT_PATH_SQL = `
DROP INDEX c2d_messages_lock_token;
DROP INDEX c2d_messages_enqueued;
DROP INDEX c2d_messages_device_expiry;
DROP INDEX c2d_messages_device_locked;

CREATE FUNCTION ferry_token(p_id bigint) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT left(u, 14) || 'f' || substr(u, 16, 9) || lpad(to_hex(p_id), 12, '0') FROM (SELECT gen_random_uuid()::text AS u) g
$$;

CREATE FUNCTION ferry_commit_hot(p_kind text[], p_dev text[], p_tok text[], p_max integer[],
  p_mid text[], p_cid text[], p_uid text[], p_ctype text[], p_cenc text[], p_ack text[],
  p_expiry bigint[], p_defexp boolean[], p_props text[], p_body bytea[],
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
  e_op integer[];
  e_code text[];
  e_seq bigint[];
  e_lease integer[];
  e_tok text[];
  direct_devs text[];
  v_woken text[] := '{}';
  v_available boolean := false;
  v_earliest bigint;
  v_records text[];
  n integer;
BEGIN
  IF EXISTS (SELECT 1 FROM c2d_messages m WHERE m.device_id = ANY(p_dev) AND (m.expiry <= p_now OR m.locked_until <= p_now)) THEN
    RETURN QUERY SELECT 0, 'due', NULL::bigint, NULL::integer, NULL::text, NULL::integer, NULL::boolean, NULL::text,
      NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::boolean, NULL::bigint, NULL::text,
      NULL::bytea, NULL::text[], NULL::boolean, NULL::bigint, NULL::text[];
    RETURN;
  END IF;

  IF 'e' = ANY(p_kind) THEN
    -- The rows of the devices sent to, locked in id order so two groups never wait on each other in
    -- a cycle; the next statement then sees every send other nodes committed before (depth, seq).
    PERFORM 1 FROM devices d WHERE d.device_id IN (SELECT x.d FROM unnest(p_kind, p_dev) x(k, d) WHERE x.k = 'e')
      ORDER BY d.device_id FOR NO KEY UPDATE;
    WITH e AS (
      SELECT x.i::integer AS i, x.d, row_number() OVER (PARTITION BY x.d ORDER BY x.i) AS r
      FROM unnest(p_kind, p_dev) WITH ORDINALITY x(k, d, i) WHERE x.k = 'e'
    ), dv AS (
      SELECT d.device_id AS d, d.next_seq, d.status = 'enabled' AS enabled, c.depth, c.waiting
      FROM devices d CROSS JOIN LATERAL (
        SELECT count(*) AS depth, count(*) FILTER (WHERE m.lock_token IS NULL) AS waiting
        FROM c2d_messages m WHERE m.device_id = d.device_id) c
      WHERE d.device_id IN (SELECT e.d FROM e)
    ), lr AS (
      SELECT x.i::integer AS i, x.d, greatest(x.mx, 0) AS room,
        sum(greatest(x.mx, 0)) OVER (PARTITION BY x.d ORDER BY x.i) - greatest(x.mx, 0) AS cum,
        bool_and(x.k = 'L') OVER (PARTITION BY x.d) AS all_direct
      FROM unnest(p_kind, p_dev, p_max) WITH ORDINALITY x(k, d, mx, i) WHERE x.k IN ('l', 'L')
    ), acc AS (
      -- Decision 2: locked messages count toward the depth.
      SELECT e.i, e.d, dv.next_seq + e.r - 1 AS seq, e.r, dv.waiting
      FROM e JOIN dv ON dv.d = e.d WHERE dv.enabled AND e.r <= depth_max - dv.depth
    ), tgt AS MATERIALIZED (
      SELECT acc.i, acc.d, acc.seq, nextval('c2d_messages_id_seq') AS id, lr.i AS lease
      FROM acc LEFT JOIN lr ON lr.d = acc.d AND lr.all_direct AND acc.waiting = 0
        AND acc.r > lr.cum AND acc.r <= lr.cum + lr.room
    ), ins AS (
      INSERT INTO c2d_messages (id, device_id, seq, message_id, correlation_id, user_id, content_type,
        content_encoding, ack, expiry, default_expiry, enqueued_at, properties, body, lock_token, locked_until,
        leased_before)
      SELECT t.id, t.d, t.seq, p_mid[t.i], p_cid[t.i], p_uid[t.i], p_ctype[t.i], p_cenc[t.i], p_ack[t.i],
        p_expiry[t.i], p_defexp[t.i], p_now, p_props[t.i], p_body[t.i],
        CASE WHEN t.lease IS NOT NULL THEN ferry_token(t.id) END,
        CASE WHEN t.lease IS NOT NULL THEN p_now + lock_ms END, t.lease IS NOT NULL
      FROM tgt t ORDER BY t.id
      RETURNING id, lock_token
    ), bump AS (
      UPDATE devices d SET next_seq = d.next_seq + a.k
      FROM (SELECT acc.d, count(*) AS k FROM acc GROUP BY acc.d) a WHERE d.device_id = a.d
    )
    SELECT array_agg(e.i ORDER BY e.i),
      array_agg(CASE WHEN t.i IS NOT NULL THEN 'ok' WHEN dv.enabled THEN 'DeviceMaximumQueueDepthExceeded'
        ELSE 'DeviceNotFound' END ORDER BY e.i),
      array_agg(t.seq ORDER BY e.i), array_agg(t.lease ORDER BY e.i), array_agg(ins.lock_token ORDER BY e.i)
    INTO e_op, e_code, e_seq, e_lease, e_tok
    FROM e LEFT JOIN dv ON dv.d = e.d LEFT JOIN tgt t ON t.i = e.i LEFT JOIN ins ON ins.id = t.id;

    RETURN QUERY SELECT u.i, u.c, u.s, u.l, u.t, NULL::integer, NULL::boolean, NULL::text, NULL::text, NULL::text,
      NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::boolean, NULL::bigint, NULL::text, NULL::bytea,
      NULL::text[], NULL::boolean, NULL::bigint, NULL::text[]
      FROM unnest(e_op, e_code, e_seq, e_lease, e_tok) u(i, c, s, l, t);
    v_woken := ARRAY(SELECT DISTINCT p_dev[u.i] FROM unnest(e_op, e_code) u(i, c) WHERE u.c = 'ok');
    v_earliest := (SELECT min(p_expiry[u.i]) FROM unnest(e_op, e_code) u(i, c) WHERE u.c = 'ok');
    direct_devs := ARRAY(SELECT DISTINCT p_dev[u.i] FROM unnest(e_op, e_lease) u(i, l) WHERE u.l IS NOT NULL);
    IF cardinality(direct_devs) > 0 THEN v_earliest := least(v_earliest, p_now + lock_ms); END IF;
  END IF;

  IF EXISTS (SELECT 1 FROM unnest(p_kind, p_dev) x(k, d) WHERE x.k IN ('l', 'L') AND x.d <> ALL(coalesce(direct_devs, '{}'))) THEN
    -- Leases: each device's lowest-sequence Enqueued messages, as many as its leases ask for, dealt
    -- to them in op order. Another node may lease the same device at once (an HTTP receive beside
    -- the device's connection): SKIP LOCKED passes over the rows it holds to the next ones.
    RETURN QUERY
    WITH lr AS (
      SELECT x.i::integer AS i, x.d, greatest(x.mx, 0) AS room,
        sum(greatest(x.mx, 0)) OVER (PARTITION BY x.d ORDER BY x.i) - greatest(x.mx, 0) AS cum
      FROM unnest(p_kind, p_dev, p_max) WITH ORDINALITY x(k, d, mx, i)
      WHERE x.k IN ('l', 'L') AND x.d <> ALL(coalesce(direct_devs, '{}'))
    ), pick AS (
      SELECT c.id, c.leased_before, t.d, row_number() OVER (PARTITION BY t.d ORDER BY c.seq) AS r
      FROM (SELECT lr.d, sum(lr.room) AS n FROM lr GROUP BY lr.d) t CROSS JOIN LATERAL (
        SELECT m.id, m.seq, m.leased_before FROM c2d_messages m
        WHERE m.device_id = t.d AND m.lock_token IS NULL ORDER BY m.seq LIMIT t.n FOR UPDATE SKIP LOCKED) c
    ), locked AS (
      UPDATE c2d_messages m SET lock_token = ferry_token(m.id), locked_until = p_now + lock_ms, leased_before = true
      FROM pick WHERE m.id = pick.id
      RETURNING m.*, pick.r, pick.leased_before AS was_leased
    )
    SELECT lr.i, 'd', l.seq, NULL::integer, l.lock_token, l.delivery_count, l.was_leased, l.message_id,
      l.correlation_id, l.user_id, l.content_type, l.content_encoding, l.ack, l.expiry, l.default_expiry,
      l.enqueued_at, l.properties, l.body, NULL::text[], NULL::boolean, NULL::bigint, NULL::text[]
    FROM locked l JOIN lr ON lr.d = l.device_id AND l.r > lr.cum AND l.r <= lr.cum + lr.room
    ORDER BY lr.i, l.seq;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN v_earliest := least(v_earliest, p_now + lock_ms); END IF;
  END IF;

  IF 'c' = ANY(p_kind) THEN
    -- Completes: found by row id and token; the second complete of one token in a group loses.
    WITH s AS (
      SELECT x.i::integer AS i, x.d, x.t, ('x' || right(x.t, 12))::bit(48)::bigint AS id,
        row_number() OVER (PARTITION BY x.t ORDER BY x.i) AS nth
      FROM unnest(p_kind, p_dev, p_tok) WITH ORDINALITY x(k, d, t, i) WHERE x.k = 'c'
    ), gone AS (
      DELETE FROM c2d_messages m USING s
      WHERE s.nth = 1 AND m.id = s.id AND m.lock_token = s.t AND m.device_id = s.d
      RETURNING s.i, m.device_id, m.message_id, m.ack, m.seq
    ), fb AS (
      INSERT INTO feedback_pending (device_id, record)
      SELECT g.device_id, json_build_object('originalMessageId', coalesce(g.message_id, ''),
          'enqueuedTimeUtc', p_now_iso, 'statusCode', 'Success', 'description', 'Success',
          'deviceId', g.device_id, 'deviceGenerationId', coalesce(d.generation_id, ''))::text
      FROM gone g LEFT JOIN devices d ON d.device_id = g.device_id
      WHERE ferry_wants(g.ack, 'Success') ORDER BY g.device_id, g.seq
      RETURNING id, record
    ), res AS (
      SELECT s.i, CASE WHEN g.i IS NULL THEN 'DeviceMessageLockLost' ELSE 'ok' END AS c FROM s LEFT JOIN gone g ON g.i = s.i
    )
    SELECT (SELECT array_agg(fb.record ORDER BY fb.id) FROM fb), array_agg(res.i), array_agg(res.c)
    INTO v_records, e_op, e_code FROM res;
    RETURN QUERY SELECT u.i, u.c, NULL::bigint, NULL::integer, NULL::text, NULL::integer, NULL::boolean, NULL::text,
      NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::boolean, NULL::bigint, NULL::text,
      NULL::bytea, NULL::text[], NULL::boolean, NULL::bigint, NULL::text[]
      FROM unnest(e_op, e_code) u(i, c);
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

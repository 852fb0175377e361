/**
 * The per-device C2D queues as server-side functions (the rules of sqlite/message-queue.ts), and
 * ferry_commit, which applies one group of operations in one transaction and one round trip.
 *
 * Concurrency between nodes: ferry_commit first locks the rows of every device its group names,
 * in device_id order (so two groups never wait on each other in a cycle). Under that lock an
 * enqueue reads next_seq and the depth, so two nodes never assign one sequence number twice nor
 * pass the depth limit. Leases take FOR UPDATE SKIP LOCKED; settles find their row by lock token
 * and lock it. The scheduler's expire claims due rows with SKIP LOCKED and never waits, so every
 * node can run it at once and each item is handled once.
 */
export const QUEUE_SQL = `
CREATE FUNCTION ferry_wants(p_ack text, p_status text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE p_ack WHEN 'full' THEN true WHEN 'positive' THEN p_status = 'Success'
    WHEN 'negative' THEN p_status <> 'Success' ELSE false END
$$;

-- Removes messages (locked by the caller) and appends the feedback records their ack asks for.
CREATE FUNCTION ferry_finish(p_ids bigint[], p_status text, p_now_iso text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  IF cardinality(p_ids) = 0 THEN RETURN 0; END IF;
  WITH gone AS (DELETE FROM c2d_messages WHERE id = ANY(p_ids) RETURNING device_id, message_id, ack, seq)
  INSERT INTO feedback_pending (device_id, record)
  SELECT g.device_id, json_build_object('originalMessageId', coalesce(g.message_id, ''),
      'enqueuedTimeUtc', p_now_iso, 'statusCode', p_status, 'description', p_status,
      'deviceId', g.device_id, 'deviceGenerationId', coalesce(d.generation_id, ''))::text
  FROM gone g LEFT JOIN devices d ON d.device_id = g.device_id
  WHERE ferry_wants(g.ack, p_status)
  ORDER BY g.device_id, g.seq;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- Back to Enqueued in place (seq unchanged) with delivery_count + p_inc; dead-lettered at the max.
CREATE FUNCTION ferry_requeue(p_ids bigint[], p_inc integer, p_max integer, p_now_iso text,
  OUT woken text[], OUT appended integer) LANGUAGE plpgsql AS $$
DECLARE
  dead bigint[];
BEGIN
  woken := '{}';
  appended := 0;
  IF cardinality(p_ids) = 0 THEN RETURN; END IF;
  SELECT coalesce(array_agg(id), '{}') INTO dead FROM c2d_messages WHERE id = ANY(p_ids) AND delivery_count + p_inc >= p_max;
  appended := ferry_finish(dead, 'DeliveryCountExceeded', p_now_iso);
  WITH back AS (
    UPDATE c2d_messages SET lock_token = NULL, locked_until = NULL, delivery_count = delivery_count + p_inc
    WHERE id = ANY(p_ids) AND delivery_count + p_inc < p_max RETURNING device_id)
  SELECT coalesce(array_agg(DISTINCT device_id), '{}') INTO woken FROM back;
END $$;

-- What was due for one device by p_now, so a result never depends on the scheduler's timing.
-- Rows another transaction holds (the scheduler handling them) are left to it.
CREATE FUNCTION ferry_apply_due(p_device text, p_now bigint, p_now_iso text, p_inc integer, p_max integer,
  OUT woken text[], OUT appended integer) LANGUAGE plpgsql AS $$
DECLARE
  ids bigint[];
  r record;
BEGIN
  woken := '{}';
  appended := 0;
  IF NOT EXISTS (SELECT 1 FROM c2d_messages WHERE device_id = p_device AND (expiry <= p_now OR locked_until <= p_now)) THEN
    RETURN;
  END IF;
  SELECT coalesce(array_agg(id), '{}') INTO ids FROM (
    SELECT id FROM c2d_messages WHERE device_id = p_device AND expiry <= p_now FOR UPDATE SKIP LOCKED) due;
  appended := ferry_finish(ids, 'Expired', p_now_iso);
  SELECT coalesce(array_agg(id), '{}') INTO ids FROM (
    SELECT id FROM c2d_messages WHERE device_id = p_device AND locked_until <= p_now FOR UPDATE SKIP LOCKED) due;
  SELECT * INTO r FROM ferry_requeue(ids, p_inc, p_max, p_now_iso);
  woken := r.woken;
  appended := appended + r.appended;
END $$;

-- One operation. p_op is the compact form postgres-store.ts encodes ({k: kind, d: deviceId, ...}).
-- deadline: the earliest deadline the op created (a TTL, a lock), null when none.
CREATE FUNCTION ferry_apply(p_op jsonb, p_body bytea, p_now bigint, p_now_iso text, p_policy jsonb,
  OUT result jsonb, OUT woken text[], OUT appended integer, OUT available boolean, OUT deadline bigint)
LANGUAGE plpgsql AS $$
DECLARE
  kind text := p_op->>'k';
  dev text := p_op->>'d';
  inc integer := CASE WHEN (p_policy->>'countLockExpiry')::boolean THEN 1 ELSE 0 END;
  max_count integer := (p_policy->>'maxDeliveryCount')::integer;
  lim integer;
  dev_status text;
  v_seq bigint;
  ids bigint[];
  n_expired integer;
  r record;
BEGIN
  woken := '{}';
  appended := 0;
  available := false;
  IF kind = 'enqueue' THEN
    SELECT status, next_seq INTO dev_status, v_seq FROM devices WHERE device_id = dev;
    -- Decision 9: a disabled device is "not found" for senders.
    IF dev_status IS DISTINCT FROM 'enabled' THEN
      result := '{"ok": false, "error": "DeviceNotFound"}';
      RETURN;
    END IF;
  ELSIF kind = 'purge' AND NOT EXISTS (SELECT 1 FROM devices WHERE device_id = dev) THEN
    result := '{"ok": false, "error": "DeviceNotFound"}';
    RETURN;
  END IF;
  IF kind IN ('enqueue', 'lease', 'settle', 'release', 'purge') THEN
    SELECT * INTO r FROM ferry_apply_due(dev, p_now, p_now_iso, inc, max_count);
    woken := r.woken;
    appended := r.appended;
  END IF;

  CASE kind
  WHEN 'enqueue' THEN
    -- Decision 2: locked messages count toward the depth.
    IF (SELECT count(*) FROM c2d_messages WHERE device_id = dev) >= (p_policy->>'maxQueueDepth')::integer THEN
      result := '{"ok": false, "error": "DeviceMaximumQueueDepthExceeded"}';
      RETURN;
    END IF;
    INSERT INTO c2d_messages (device_id, seq, message_id, correlation_id, user_id, content_type, content_encoding,
      ack, expiry, default_expiry, enqueued_at, properties, body)
    VALUES (dev, v_seq, p_op->>'messageId', p_op->>'correlationId', p_op->>'userId', p_op->>'contentType',
      p_op->>'contentEncoding', p_op->>'ack', (p_op->>'expiry')::bigint, (p_op->>'defaultExpiry')::boolean, p_now,
      p_op->>'properties', p_body);
    UPDATE devices SET next_seq = next_seq + 1 WHERE device_id = dev;
    woken := woken || dev;
    deadline := (p_op->>'expiry')::bigint;
    result := jsonb_build_object('ok', true, 'sequenceNumber', v_seq);

  WHEN 'lease' THEN
    WITH picked AS (
      SELECT id, leased_before FROM c2d_messages WHERE device_id = dev AND lock_token IS NULL
      ORDER BY seq LIMIT greatest(0, (p_op->>'max')::integer) FOR UPDATE SKIP LOCKED
    ), locked AS (
      UPDATE c2d_messages m SET lock_token = gen_random_uuid()::text,
        locked_until = p_now + (p_policy->>'lockTimeoutMs')::bigint, leased_before = true
      FROM picked WHERE m.id = picked.id
      RETURNING m.*, picked.leased_before AS was_leased
    )
    SELECT jsonb_build_object('ok', true, 'deliveries', coalesce(jsonb_agg(jsonb_build_object(
        'seq', l.seq, 'messageId', l.message_id, 'correlationId', l.correlation_id, 'userId', l.user_id,
        'contentType', l.content_type, 'contentEncoding', l.content_encoding, 'ack', l.ack, 'expiry', l.expiry,
        'defaultExpiry', l.default_expiry,
        'enqueuedAt', l.enqueued_at, 'properties', l.properties, 'body', encode(l.body, 'base64'),
        'deliveryCount', l.delivery_count, 'lockToken', l.lock_token, 'lockedUntil', l.locked_until,
        'redelivered', l.was_leased) ORDER BY l.seq), '[]'))
    INTO result FROM locked l;
    IF jsonb_array_length(result->'deliveries') > 0 THEN
      deadline := p_now + (p_policy->>'lockTimeoutMs')::bigint;
    END IF;

  WHEN 'settle' THEN
    SELECT array_agg(id) INTO ids FROM (
      SELECT id FROM c2d_messages WHERE lock_token = p_op->>'t' AND device_id = dev FOR UPDATE) held;
    IF ids IS NULL THEN
      -- Unknown, expired, or settled already (the expiry applied above): 412002.
      result := '{"ok": false, "error": "DeviceMessageLockLost"}';
      RETURN;
    END IF;
    IF p_op->>'a' = 'complete' THEN
      appended := appended + ferry_finish(ids, 'Success', p_now_iso);
      result := '{"ok": true, "outcome": "completed"}';
    ELSIF p_op->>'a' = 'reject' THEN
      appended := appended + ferry_finish(ids, 'Rejected', p_now_iso);
      result := '{"ok": true, "outcome": "deadLettered"}';
    ELSIF p_op->>'a' = 'abandon' THEN
      SELECT * INTO r FROM ferry_requeue(ids, 1, max_count, p_now_iso);
      woken := woken || r.woken;
      appended := appended + r.appended;
      result := jsonb_build_object('ok', true, 'outcome',
        CASE WHEN cardinality(r.woken) > 0 THEN 'requeued' ELSE 'deadLettered' END);
    ELSE
      RAISE EXCEPTION 'unknown settle action %', p_op->>'a';
    END IF;

  WHEN 'release' THEN
    SELECT coalesce(array_agg(id), '{}') INTO ids FROM (
      SELECT id FROM c2d_messages WHERE device_id = dev
        AND lock_token = ANY(ARRAY(SELECT jsonb_array_elements_text(p_op->'t'))) FOR UPDATE) held;
    SELECT * INTO r FROM ferry_requeue(ids, inc, max_count, p_now_iso);
    woken := woken || r.woken;
    appended := appended + r.appended;
    result := jsonb_build_object('ok', true, 'released', cardinality(ids));

  WHEN 'purge' THEN
    -- Already expired messages were reported Expired above, not Purged.
    SELECT coalesce(array_agg(id), '{}') INTO ids FROM (
      SELECT id FROM c2d_messages WHERE device_id = dev ORDER BY seq FOR UPDATE) pending;
    appended := appended + ferry_finish(ids, 'Purged', p_now_iso);
    result := jsonb_build_object('ok', true, 'purged', cardinality(ids));

  WHEN 'expire' THEN
    lim := (p_op->>'limit')::integer;
    -- TTL expiries (dead-lettered even when locked), then lock expiries.
    SELECT coalesce(array_agg(id), '{}') INTO ids FROM (
      SELECT id FROM c2d_messages WHERE expiry <= p_now ORDER BY expiry LIMIT lim FOR UPDATE SKIP LOCKED) due;
    n_expired := cardinality(ids);
    appended := ferry_finish(ids, 'Expired', p_now_iso);
    SELECT coalesce(array_agg(id), '{}') INTO ids FROM (
      SELECT id FROM c2d_messages WHERE locked_until <= p_now ORDER BY locked_until LIMIT lim FOR UPDATE SKIP LOCKED) due;
    SELECT * INTO r FROM ferry_requeue(ids, inc, max_count, p_now_iso);
    woken := r.woken;
    appended := appended + r.appended;
    SELECT * INTO r FROM ferry_feedback_expire(p_now, lim, p_policy);
    available := r.available OR ferry_make_batches(p_now, p_policy);
    result := jsonb_build_object('ok', true, 'expired', n_expired, 'locksExpired', cardinality(ids),
      'more', n_expired = lim OR cardinality(ids) = lim OR r.more);

  WHEN 'leaseFeedback' THEN
    SELECT * INTO result, available FROM ferry_feedback_lease(p_now, p_policy);
    deadline := (result->'batch'->>'lockedUntil')::bigint;

  WHEN 'settleFeedback' THEN
    SELECT * INTO result, available FROM ferry_feedback_settle(p_now, p_op->>'t', p_op->>'a', p_policy);

  ELSE
    RAISE EXCEPTION 'unknown queue operation %', kind;
  END CASE;
END $$;

-- One group commit. p_isolate runs each op in its own subtransaction (a savepoint): the store asks
-- for it only when the group failed without it, as subtransactions cost on a busy server.
-- NOTIFY is delivered at commit, so other nodes are woken only for committed work.
CREATE FUNCTION ferry_commit(p_ops jsonb, p_bodies bytea[], p_now bigint, p_now_iso text, p_policy jsonb,
  p_isolate boolean, p_channel text, p_node text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  results jsonb[] := '{}';
  woken text[] := '{}';
  appended integer := 0;
  available boolean := false;
  earliest bigint;
  -- feedback_pending rows above this id were appended by this commit (CommitResult.feedbackRecords)
  fb_mark bigint := (SELECT coalesce(max(id), 0) FROM feedback_pending);
  records text[];
  delay bigint := (p_policy->'feedback'->>'batchDelayMs')::bigint;
  op jsonb;
  i integer := 0;
  r record;
BEGIN
  PERFORM 1 FROM devices
    WHERE device_id IN (SELECT o->>'d' FROM jsonb_array_elements(p_ops) o WHERE o ? 'd')
    ORDER BY device_id FOR NO KEY UPDATE;
  FOR op IN SELECT value FROM jsonb_array_elements(p_ops) LOOP
    i := i + 1;
    IF p_isolate THEN
      BEGIN
        SELECT * INTO r FROM ferry_apply(op, p_bodies[i], p_now, p_now_iso, p_policy);
      EXCEPTION WHEN OTHERS THEN
        SELECT jsonb_build_object('ok', false, 'error', 'ServerError', 'cause', SQLERRM, 'sqlstate', SQLSTATE)
          AS result, '{}'::text[] AS woken, 0 AS appended, false AS available, NULL::bigint AS deadline INTO r;
      END;
    ELSE
      SELECT * INTO r FROM ferry_apply(op, p_bodies[i], p_now, p_now_iso, p_policy);
    END IF;
    results := results || r.result;
    woken := woken || r.woken;
    appended := appended + r.appended;
    available := available OR r.available;
    earliest := least(earliest, r.deadline);
  END LOOP;
  IF appended > 0 THEN
    SELECT array_agg(record ORDER BY id) INTO records FROM feedback_pending WHERE id > fb_mark;
    available := ferry_make_batches(p_now, p_policy) OR available;
    -- Records left waiting are due for a batch at once or batchDelay after the last one.
    IF EXISTS (SELECT 1 FROM feedback_pending) THEN
      earliest := least(earliest, CASE WHEN delay = 0 THEN p_now ELSE
        coalesce((SELECT value FROM hub_state WHERE key = 'feedback.lastBatchAt') + delay, p_now) END);
    END IF;
  END IF;
  IF available THEN
    -- A batch made (or back) now lives until its TTL at most.
    earliest := least(earliest, p_now + (p_policy->'feedback'->>'ttlMs')::bigint);
  END IF;
  woken := ARRAY(SELECT DISTINCT unnest(woken));
  IF p_channel IS NOT NULL THEN
    PERFORM pg_notify(p_channel, p_node || '|w|' || d) FROM unnest(woken) d;
    IF available THEN PERFORM pg_notify(p_channel, p_node || '|f|'); END IF;
  END IF;
  RETURN jsonb_build_object('results', to_jsonb(results), 'woken', to_jsonb(woken), 'feedbackAvailable', available,
    'earliestDeadline', earliest, 'feedbackRecords', to_jsonb(records));
END $$;

CREATE FUNCTION ferry_next_deadline(p_batch_delay bigint) RETURNS double precision LANGUAGE sql STABLE AS $$
  SELECT least(
    (SELECT min(expiry) FROM c2d_messages),
    (SELECT min(locked_until) FROM c2d_messages WHERE lock_token IS NOT NULL),
    (SELECT min(expiry) FROM feedback_batches),
    (SELECT min(locked_until) FROM feedback_batches WHERE lock_token IS NOT NULL),
    -- A batch is due at once when none was made yet or batching is immediate.
    CASE WHEN EXISTS (SELECT 1 FROM feedback_pending) THEN
      CASE WHEN p_batch_delay = 0 THEN 0
        ELSE coalesce((SELECT value FROM hub_state WHERE key = 'feedback.lastBatchAt') + p_batch_delay, 0) END
    END)::double precision
$$;
`;

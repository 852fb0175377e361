/**
 * The hub-wide feedback queue as server-side functions (the rules of sqlite/feedback-queue.ts).
 * Every node's scheduler may run them at once: due rows are claimed with SKIP LOCKED, and batching
 * is done by one transaction at a time (a transaction-scoped advisory try-lock; a transaction
 * that does not get it leaves the records to the one that has it, or to the next scheduler run).
 */
export const FEEDBACK_SQL = `
CREATE FUNCTION ferry_make_batches(p_now bigint, p_policy jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  mx integer := (p_policy->'feedback'->>'batchMaxRecords')::integer;
  delay bigint := (p_policy->'feedback'->>'batchDelayMs')::bigint;
  ttl bigint := (p_policy->'feedback'->>'ttlMs')::bigint;
  pending bigint;
  last bigint;
  made integer := 0;
  n integer;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext(current_schema()), 1) THEN RETURN false; END IF;
  SELECT count(*) INTO pending FROM feedback_pending;
  IF pending = 0 THEN RETURN false; END IF;
  SELECT value INTO last FROM hub_state WHERE key = 'feedback.lastBatchAt';
  WHILE pending > 0 LOOP
    -- Full batches at once; the remainder when batchDelay has passed since the last batch.
    EXIT WHEN pending < mx AND delay > 0 AND last IS NOT NULL AND p_now < last + delay;
    n := least(pending, mx);
    WITH taken AS (
      DELETE FROM feedback_pending WHERE id IN (SELECT id FROM feedback_pending ORDER BY id LIMIT n)
      RETURNING id, record
    )
    INSERT INTO feedback_batches (created_at, expiry, records)
    SELECT p_now, p_now + ttl, '[' || string_agg(record, ',' ORDER BY id) || ']' FROM taken HAVING count(*) > 0;
    pending := pending - n;
    made := made + 1;
    last := p_now;
  END LOOP;
  IF made = 0 THEN RETURN false; END IF;
  INSERT INTO hub_state (key, value) VALUES ('feedback.lastBatchAt', p_now)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
  RETURN true;
END $$;

-- Abandon or lock expiry: back with delivery_count + 1, or dropped at the max. True when back.
CREATE FUNCTION ferry_feedback_return(p_ids bigint[], p_policy jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  fmax integer := (p_policy->'feedback'->>'maxDeliveryCount')::integer;
  back integer;
BEGIN
  DELETE FROM feedback_batches WHERE id = ANY(p_ids) AND delivery_count + 1 >= fmax;
  UPDATE feedback_batches SET lock_token = NULL, locked_until = NULL, delivery_count = delivery_count + 1
    WHERE id = ANY(p_ids) AND delivery_count + 1 < fmax;
  GET DIAGNOSTICS back = ROW_COUNT;
  RETURN back > 0;
END $$;

-- TTL expiries (dropped even when locked) and lock expiries, at most p_limit of each.
CREATE FUNCTION ferry_feedback_expire(p_now bigint, p_limit integer, p_policy jsonb,
  OUT more boolean, OUT available boolean) LANGUAGE plpgsql AS $$
DECLARE
  n_expired integer;
  ids bigint[];
BEGIN
  WITH due AS (SELECT id FROM feedback_batches WHERE expiry <= p_now ORDER BY expiry LIMIT p_limit FOR UPDATE SKIP LOCKED)
  DELETE FROM feedback_batches b USING due WHERE b.id = due.id;
  GET DIAGNOSTICS n_expired = ROW_COUNT;
  SELECT coalesce(array_agg(id), '{}') INTO ids FROM (
    SELECT id FROM feedback_batches WHERE locked_until <= p_now ORDER BY locked_until LIMIT p_limit
    FOR UPDATE SKIP LOCKED) due;
  available := cardinality(ids) > 0 AND ferry_feedback_return(ids, p_policy);
  more := n_expired = p_limit OR cardinality(ids) = p_limit;
END $$;

-- What was due before a lease or settle, so its result never depends on the scheduler.
CREATE FUNCTION ferry_feedback_expire_all(p_now bigint, p_policy jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  r record;
  available boolean := false;
BEGIN
  LOOP
    SELECT * INTO r FROM ferry_feedback_expire(p_now, 1000, p_policy);
    available := available OR r.available;
    EXIT WHEN NOT r.more;
  END LOOP;
  RETURN available;
END $$;

CREATE FUNCTION ferry_feedback_lease(p_now bigint, p_policy jsonb, OUT result jsonb, OUT available boolean)
LANGUAGE plpgsql AS $$
DECLARE
  b record;
  token text := gen_random_uuid()::text;
  until bigint := p_now + (p_policy->'feedback'->>'lockDurationMs')::bigint;
BEGIN
  available := ferry_feedback_expire_all(p_now, p_policy);
  SELECT id, created_at, records, delivery_count INTO b FROM feedback_batches
    WHERE lock_token IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    result := '{"ok": true, "batch": null}';
    RETURN;
  END IF;
  UPDATE feedback_batches SET lock_token = token, locked_until = until WHERE id = b.id;
  result := jsonb_build_object('ok', true, 'batch', jsonb_build_object('lockToken', token, 'lockedUntil', until,
    'enqueuedTimeUtc', b.created_at, 'deliveryCount', b.delivery_count, 'records', b.records));
END $$;

CREATE FUNCTION ferry_feedback_settle(p_now bigint, p_token text, p_action text, p_policy jsonb,
  OUT result jsonb, OUT available boolean) LANGUAGE plpgsql AS $$
DECLARE
  batch_id bigint;
BEGIN
  available := ferry_feedback_expire_all(p_now, p_policy);
  SELECT id INTO batch_id FROM feedback_batches WHERE lock_token = p_token FOR UPDATE;
  IF NOT FOUND THEN
    result := '{"ok": false, "error": "DeviceMessageLockLost"}';
    RETURN;
  END IF;
  IF p_action = 'abandon' THEN
    available := ferry_feedback_return(ARRAY[batch_id], p_policy) OR available;
  ELSE
    -- complete removes it; reject dead-letters it, and a dead feedback message is simply gone.
    DELETE FROM feedback_batches WHERE id = batch_id;
  END IF;
  result := '{"ok": true}';
END $$;
`;

/**
 * Kept dead letters on PostgreSQL (docs/dead-letters.md), migration 7. The rules of
 * sqlite/dead-letter-table.ts, added around the functions of queue-sql.ts without editing them:
 * - ferry_finish (renamed ferry_finish_feedback) is wrapped: a message it removes with a dead-letter
 *   status is first copied to c2d_dead_letters, and the device's oldest beyond the cap go.
 * - ferry_apply (renamed ferry_apply_c2d) is wrapped: it tells ferry_finish the policy through a
 *   transaction-local setting, serves requeueDeadLetter (an enqueue of the copy) and
 *   deleteDeadLetter, and the scheduler's expire also removes what is past the retention.
 * Both new ops carry the device id as `d`, so ferry_commit locks the device's row first.
 */
export const DEAD_LETTERS_SQL = `
CREATE TABLE c2d_dead_letters (
  id bigserial PRIMARY KEY,
  device_id text NOT NULL,
  seq bigint NOT NULL,
  message_id text,
  correlation_id text,
  user_id text,
  content_type text,
  content_encoding text,
  ack text,
  expiry bigint NOT NULL,
  default_expiry boolean NOT NULL,
  enqueued_at bigint NOT NULL,
  properties text NOT NULL,
  body bytea NOT NULL,
  delivery_count integer NOT NULL,
  reason text NOT NULL,
  dead_lettered_at bigint NOT NULL
);
CREATE UNIQUE INDEX c2d_dead_letters_device_seq ON c2d_dead_letters (device_id, seq);
CREATE INDEX c2d_dead_letters_time ON c2d_dead_letters (dead_lettered_at);

ALTER FUNCTION ferry_finish(bigint[], text, text) RENAME TO ferry_finish_feedback;

CREATE FUNCTION ferry_finish(p_ids bigint[], p_status text, p_now_iso text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  cfg jsonb := nullif(current_setting('ferry.dead_letters', true), '')::jsonb;
  cap integer := coalesce((cfg->>'maxPerDevice')::integer, 0);
BEGIN
  IF cardinality(p_ids) > 0 AND p_status <> 'Success' AND coalesce((cfg->>'retentionMs')::bigint, 0) > 0 AND cap > 0 THEN
    INSERT INTO c2d_dead_letters (device_id, seq, message_id, correlation_id, user_id, content_type, content_encoding,
      ack, expiry, default_expiry, enqueued_at, properties, body, delivery_count, reason, dead_lettered_at)
    SELECT device_id, seq, message_id, correlation_id, user_id, content_type, content_encoding, ack, expiry,
      default_expiry, enqueued_at, properties, body,
      -- the abandon that dead-letters a message counts, as on SQLite
      delivery_count + CASE WHEN p_status = 'DeliveryCountExceeded' THEN 1 ELSE 0 END,
      p_status, (cfg->>'now')::bigint
    FROM c2d_messages WHERE id = ANY(p_ids) ORDER BY device_id, seq
    ON CONFLICT (device_id, seq) DO NOTHING;
    DELETE FROM c2d_dead_letters WHERE id IN (
      SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY device_id ORDER BY id DESC) AS n FROM c2d_dead_letters
        WHERE device_id IN (SELECT device_id FROM c2d_messages WHERE id = ANY(p_ids))) ranked
      WHERE n > cap);
    PERFORM set_config('ferry.dead_letters_made', '1', true);
  END IF;
  RETURN ferry_finish_feedback(p_ids, p_status, p_now_iso);
END $$;

ALTER FUNCTION ferry_apply(jsonb, bytea, bigint, text, jsonb) RENAME TO ferry_apply_c2d;

CREATE FUNCTION ferry_apply(p_op jsonb, p_body bytea, p_now bigint, p_now_iso text, p_policy jsonb,
  OUT result jsonb, OUT woken text[], OUT appended integer, OUT available boolean, OUT deadline bigint)
LANGUAGE plpgsql AS $$
DECLARE
  kind text := p_op->>'k';
  dev text := p_op->>'d';
  retention bigint := coalesce((p_policy->'deadLetters'->>'retentionMs')::bigint, 0);
  dl c2d_dead_letters;
  n integer;
BEGIN
  woken := '{}';
  appended := 0;
  available := false;
  PERFORM set_config('ferry.dead_letters', jsonb_build_object('now', p_now, 'retentionMs', retention,
    'maxPerDevice', p_policy->'deadLetters'->'maxPerDevice')::text, true);
  PERFORM set_config('ferry.dead_letters_made', '', true);
  IF kind IN ('requeueDeadLetter', 'deleteDeadLetter') THEN
    SELECT * INTO dl FROM c2d_dead_letters
      WHERE device_id = dev AND seq = (p_op->>'seq')::bigint AND dead_lettered_at > p_now - retention FOR UPDATE;
    IF NOT FOUND THEN
      result := '{"ok": false, "error": "DeadLetterNotFound"}';
      RETURN;
    END IF;
    IF kind = 'deleteDeadLetter' THEN
      DELETE FROM c2d_dead_letters WHERE id = dl.id;
      result := '{"ok": true}';
      RETURN;
    END IF;
    -- Back at the tail as a new message: the enqueue's checks (device, depth) and sequence number.
    SELECT * INTO result, woken, appended, available, deadline FROM ferry_apply_c2d(jsonb_build_object(
      'k', 'enqueue', 'd', dev, 'messageId', dl.message_id, 'correlationId', dl.correlation_id, 'userId', dl.user_id,
      'contentType', dl.content_type, 'contentEncoding', dl.content_encoding, 'ack', dl.ack,
      'expiry', (p_op->>'expiry')::bigint, 'defaultExpiry', dl.default_expiry, 'properties', dl.properties),
      dl.body, p_now, p_now_iso, p_policy);
    IF (result->>'ok')::boolean THEN
      DELETE FROM c2d_dead_letters WHERE id = dl.id;
    END IF;
  ELSE
    SELECT * INTO result, woken, appended, available, deadline FROM ferry_apply_c2d(p_op, p_body, p_now, p_now_iso, p_policy);
    IF kind = 'expire' THEN
      DELETE FROM c2d_dead_letters WHERE id IN (
        SELECT id FROM c2d_dead_letters WHERE dead_lettered_at <= p_now - retention
        ORDER BY dead_lettered_at LIMIT (p_op->>'limit')::integer FOR UPDATE SKIP LOCKED);
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n = (p_op->>'limit')::integer THEN result := jsonb_set(result, '{more}', 'true'); END IF;
    END IF;
  END IF;
  IF current_setting('ferry.dead_letters_made', true) = '1' THEN
    deadline := least(deadline, p_now + retention);
  END IF;
END $$;
`;

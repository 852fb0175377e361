/**
 * Each C2D message's story on PostgreSQL (docs/message-history.md), migration 11: the rules of
 * sqlite/history-table.ts, added around the functions of queue-sql.ts, dead-letters-sql.ts,
 * hot-path-sql.ts and job-queries.ts without editing them, so every step is written in the transaction of the op it
 * records:
 * - ferry_apply (renamed ferry_apply_unrecorded) is wrapped: it tells the functions below the op's kind,
 *   the time and the retention through a transaction-local setting, records "enqueued" (with the
 *   sending policy and job), "delivered" (from the lease's deliveries, with the protocol), a dead
 *   letter's "requeued", and the scheduler's expire also removes the copies past the retention.
 * - ferry_finish (renamed ferry_finish_unrecorded) is wrapped: every message it removes gets its ending
 *   step (completed, rejected, expired, purged, deadLettered) with the feedback record it made.
 * - ferry_requeue (renamed ferry_requeue_unrecorded) is wrapped: abandoned, released or lockExpired.
 * - ferry_commit_hot gets an overload with one more array (the sending policy or the receiving
 *   protocol): it reads the messages its completes will remove, calls the original, and
 *   records the enqueued, delivered and completed steps from its rows in one more INSERT, set-based.
 * Messages without a message id are not recorded; retention 0 records nothing.
 */
export const HISTORY_SQL = `
-- No primary key: id only orders a copy's steps, found through c2d_history_message (one index
-- entry less per step written).
CREATE TABLE c2d_history (
  id bigserial NOT NULL,
  device_id text NOT NULL,
  message_id text NOT NULL,
  seq bigint NOT NULL,
  kind text NOT NULL,
  at bigint NOT NULL,
  delivery_count integer NOT NULL,
  final boolean NOT NULL,
  lock_token text,
  via text,
  detail text
);
CREATE INDEX c2d_history_message ON c2d_history (device_id, message_id, seq);
CREATE INDEX c2d_history_ended ON c2d_history (at) WHERE final;

-- The op being applied ({k, now}), or NULL when history is off.
CREATE FUNCTION ferry_history_op() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('ferry.history', true), '')::jsonb
$$;

ALTER FUNCTION ferry_finish(bigint[], text, text) RENAME TO ferry_finish_unrecorded;

CREATE FUNCTION ferry_finish(p_ids bigint[], p_status text, p_now_iso text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  h jsonb := ferry_history_op();
BEGIN
  IF h IS NOT NULL AND cardinality(p_ids) > 0 THEN
    INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, detail)
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
      END
    FROM c2d_messages m LEFT JOIN devices d ON d.device_id = m.device_id
    WHERE m.id = ANY(p_ids) AND m.message_id IS NOT NULL ORDER BY m.device_id, m.seq;
    IF FOUND THEN PERFORM set_config('ferry.history_ended', '1', true); END IF;
  END IF;
  RETURN ferry_finish_unrecorded(p_ids, p_status, p_now_iso);
END $$;

ALTER FUNCTION ferry_requeue(bigint[], integer, integer, text) RENAME TO ferry_requeue_unrecorded;

CREATE FUNCTION ferry_requeue(p_ids bigint[], p_inc integer, p_max integer, p_now_iso text,
  OUT woken text[], OUT appended integer) LANGUAGE plpgsql AS $$
DECLARE
  h jsonb := ferry_history_op();
  r record;
BEGIN
  IF h IS NOT NULL AND cardinality(p_ids) > 0 THEN
    INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final)
    SELECT device_id, message_id, seq,
      CASE WHEN locked_until <= (h->>'now')::bigint THEN 'lockExpired' WHEN h->>'k' = 'settle' THEN 'abandoned'
        ELSE 'released' END,
      (h->>'now')::bigint, delivery_count + p_inc, false
    FROM c2d_messages WHERE id = ANY(p_ids) AND message_id IS NOT NULL ORDER BY device_id, seq;
  END IF;
  SELECT * INTO r FROM ferry_requeue_unrecorded(p_ids, p_inc, p_max, p_now_iso);
  woken := r.woken;
  appended := r.appended;
END $$;

ALTER FUNCTION ferry_apply(jsonb, bytea, bigint, text, jsonb) RENAME TO ferry_apply_unrecorded;

CREATE FUNCTION ferry_apply(p_op jsonb, p_body bytea, p_now bigint, p_now_iso text, p_policy jsonb,
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
      INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, via, detail)
      VALUES (dev, p_op->>'messageId', (result->>'sequenceNumber')::bigint, 'enqueued', p_now, 0, false,
        p_op->>'policy', CASE WHEN p_op->>'job' IS NOT NULL THEN json_build_object('jobId', p_op->>'job')::text END);
    ELSIF kind = 'requeueDeadLetter' AND dl.message_id IS NOT NULL THEN
      INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, detail) VALUES
        (dev, dl.message_id, (result->>'sequenceNumber')::bigint, 'enqueued', p_now, 0, false,
          json_build_object('requeuedFrom', dl.seq)::text),
        (dev, dl.message_id, dl.seq, 'requeued', p_now, dl.delivery_count, true,
          json_build_object('requeuedAs', (result->>'sequenceNumber')::bigint)::text);
      PERFORM set_config('ferry.history_ended', '1', true);
    ELSIF kind = 'lease' THEN
      INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, lock_token, via)
      SELECT dev, x->>'messageId', (x->>'seq')::bigint, 'delivered', p_now, (x->>'deliveryCount')::integer, false,
        x->>'lockToken', p_op->>'protocol'
      FROM jsonb_array_elements(result->'deliveries') x WHERE x->>'messageId' IS NOT NULL;
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

CREATE FUNCTION ferry_commit_hot(p_kind text[], p_dev text[], p_tok text[], p_max integer[],
  p_mid text[], p_cid text[], p_uid text[], p_ctype text[], p_cenc text[], p_ack text[],
  p_expiry bigint[], p_defexp boolean[], p_props text[], p_body bytea[],
  p_now bigint, p_now_iso text, p_policy jsonb, p_channel text, p_node text, p_via text[])
RETURNS TABLE (op integer, code text, seq bigint, src integer, lock_token text, delivery_count integer,
  redelivered boolean, message_id text, correlation_id text, user_id text, content_type text,
  content_encoding text, ack text, expiry bigint, default_expiry boolean, enqueued_at bigint, properties text,
  body bytea, woken text[], available boolean, earliest bigint, records text[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  retention bigint := coalesce((p_policy->'history'->>'retentionMs')::bigint, 0);
  c_op integer[];
  c_mid text[];
  c_seq bigint[];
  c_cnt integer[];
  c_fb text[];
BEGIN
  IF retention <= 0 THEN
    RETURN QUERY SELECT * FROM ferry_commit_hot(p_kind, p_dev, p_tok, p_max, p_mid, p_cid, p_uid, p_ctype, p_cenc,
      p_ack, p_expiry, p_defexp, p_props, p_body, p_now, p_now_iso, p_policy, p_channel, p_node);
    RETURN;
  END IF;
  IF 'c' = ANY(p_kind) THEN
    -- What the completes will remove (their rows are gone once the original has run).
    SELECT array_agg(x.i::integer), array_agg(m.message_id), array_agg(m.seq), array_agg(m.delivery_count),
      array_agg(CASE WHEN ferry_wants(m.ack, 'Success') THEN json_build_object('feedback', json_build_object(
        'originalMessageId', m.message_id, 'enqueuedTimeUtc', p_now_iso, 'statusCode', 'Success',
        'description', 'Success', 'deviceId', m.device_id, 'deviceGenerationId', coalesce(d.generation_id, '')))::text
      END)
    INTO c_op, c_mid, c_seq, c_cnt, c_fb
    FROM unnest(p_kind, p_dev, p_tok) WITH ORDINALITY x(k, dv, t, i)
    JOIN c2d_messages m ON m.id = ('x' || right(x.t, 12))::bit(48)::bigint AND m.lock_token = x.t AND m.device_id = x.dv
    LEFT JOIN devices d ON d.device_id = m.device_id
    WHERE x.k = 'c' AND m.message_id IS NOT NULL;
  END IF;
  RETURN QUERY
  WITH res AS MATERIALIZED (
    SELECT row_number() OVER () AS n, h.* FROM ferry_commit_hot(p_kind, p_dev, p_tok, p_max, p_mid, p_cid, p_uid,
      p_ctype, p_cenc, p_ack, p_expiry, p_defexp, p_props, p_body, p_now, p_now_iso, p_policy, p_channel, p_node) h
  ), steps AS (
    SELECT r.op AS o, 0 AS sub, p_dev[r.op] AS dv, p_mid[r.op] AS mid, r.seq AS s, 'enqueued' AS kind, 0 AS cnt,
      false AS fin, NULL::text AS tok, p_via[r.op] AS via,
      NULL::text AS detail
    FROM res r WHERE r.code = 'ok' AND p_kind[r.op] = 'e' AND p_mid[r.op] IS NOT NULL
    UNION ALL
    -- Locked as it was inserted, for the waiting receiver's lease r.src (direct delivery).
    SELECT r.op, 1, p_dev[r.op], p_mid[r.op], r.seq, 'delivered', 0, false, r.lock_token, p_via[r.src], NULL
    FROM res r WHERE r.code = 'ok' AND r.src IS NOT NULL AND p_mid[r.op] IS NOT NULL
    UNION ALL
    SELECT r.op, r.n::integer, p_dev[r.op], r.message_id, r.seq, 'delivered', r.delivery_count, false, r.lock_token,
      p_via[r.op], NULL
    FROM res r WHERE r.code = 'd' AND r.message_id IS NOT NULL
    UNION ALL
    SELECT r.op, 0, p_dev[r.op], c.mid, c.s, 'completed', c.cnt, true, NULL, NULL, c.fb
    FROM res r JOIN unnest(c_op, c_mid, c_seq, c_cnt, c_fb) c(i, mid, s, cnt, fb) ON c.i = r.op WHERE r.code = 'ok'
  ), ins AS (
    INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final, lock_token, via, detail)
    SELECT st.dv, st.mid, st.s, st.kind, p_now, st.cnt, st.fin, st.tok, st.via, st.detail FROM steps st
    ORDER BY st.o, st.sub
  )
  SELECT r.op, r.code, r.seq, r.src, r.lock_token, r.delivery_count, r.redelivered, r.message_id, r.correlation_id,
    r.user_id, r.content_type, r.content_encoding, r.ack, r.expiry, r.default_expiry, r.enqueued_at, r.properties,
    r.body, r.woken, r.available,
    -- a complete ends a copy: its history is due for removal after the retention
    CASE WHEN r.code = 'commit' AND c_op IS NOT NULL THEN least(r.earliest, p_now + retention) ELSE r.earliest END,
    r.records
  FROM res r ORDER BY r.n;
END $$;
`;

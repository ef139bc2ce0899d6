-- stripe_webhook 0.2.0 -> 0.3.0: retention of the event inbox
-- (prune_events(), prune_events_batched(), the setting
-- stripe_webhook.payload_retention).  The result must equal a fresh 0.3.0
-- install (test/e2e/05_upgrade.t compares catalogues).

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION stripe_webhook UPDATE TO '0.3.0'" to load this file. \quit

---------------------------------------------------------------------------
-- Section: event retention (0.3.0)
---------------------------------------------------------------------------
-- stripe_webhook.events grows by one row per event.  prune_events() (one
-- transaction) and CALL prune_events_batched() (a COMMIT after every
-- batch) delete the processed and ignored events processed (processed_at)
-- before now() - older_than, and strip (payload = NULL) the payload of the
-- processed and ignored events that stay but were processed before now() -
-- stripe_webhook.payload_retention (a setting, src/stripe_webhook.c; -1, the
-- default, keeps payloads).  Received and failed events are never touched:
-- a redelivery or stripe_replay_event() still needs them.  A redelivery of
-- a pruned event is processed again, and the Checkout handlers are
-- idempotent per session (the order is found by its session id).
--
-- How the table is walked: in windows of heap blocks (TID range scans, so
-- each block is read about once per run and the deliveries' hot path pays
-- for no extra index); within a window, in batches of at most batch_size
-- rows picked with FOR UPDATE SKIP LOCKED.  A row someone else has locked
-- is left for the next run; a window is done when a batch picks fewer
-- rows than batch_size.  Deliveries never lock processed or ignored rows
-- (a redelivery only reads them), so they never wait for the pruning.
-- Owner only, SECURITY INVOKER: whoever runs them needs DELETE and UPDATE
-- on stripe_webhook.events.  doc/retention.md is the user's guide.

-- The setting stripe_webhook.payload_retention as an interval.  In C so that
-- calling it loads the module, which registers and checks the setting.
CREATE FUNCTION stripe_webhook.payload_retention()
RETURNS interval
AS 'MODULE_PATHNAME', 'stripe_payload_retention'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION stripe_webhook.payload_retention() FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.payload_retention() IS
    'stripe_webhook.payload_retention as an interval (NULL: -1, payloads kept until the event is pruned).';

-- Internal: check the arguments of prune_events() and prune_events_batched()
-- and fix the run's cut-off times and the table's size in blocks when it
-- starts.  older_than: NULL 22004, negative 22023; a cut-off that would be
-- out of range (a huge interval) prunes nothing; one after now() (intervals
-- mixing months and days, e.g. '1 month -30 days') is now().
CREATE FUNCTION stripe_webhook.prune_events_start(
    older_than interval,
    batch_size integer,
    OUT delete_before timestamptz,
    OUT strip_before timestamptz,
    OUT end_block bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an interval such as ''90 days''; ''0'' prunes every processed and ignored event.';
    END IF;
    IF older_than < '0'::interval THEN
        RAISE EXCEPTION 'older_than must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('older_than is %s.', older_than),
                  HINT = 'Pass an interval such as ''90 days''; ''0'' prunes every processed and ignored event.';
    END IF;
    IF batch_size IS NULL THEN
        RAISE EXCEPTION 'batch_size must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Omit it for the default of 1000 rows per batch.';
    END IF;
    IF batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('batch_size is %s.', batch_size),
                  HINT = 'Omit it for the default of 1000 rows per batch.';
    END IF;

    BEGIN
        delete_before := LEAST(pg_catalog.now() - older_than, pg_catalog.now());
    EXCEPTION WHEN datetime_field_overflow THEN
        delete_before := '-infinity';
    END;
    strip_before := pg_catalog.now() - stripe_webhook.payload_retention();
    end_block := pg_catalog.pg_relation_size('stripe_webhook.events'::pg_catalog.regclass)
                 / pg_catalog.current_setting('block_size')::bigint;
END
$$;
REVOKE ALL ON FUNCTION stripe_webhook.prune_events_start(interval, integer) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.prune_events_start(interval, integer) IS
    'Internal to prune_events() and prune_events_batched(): checks their arguments, returns the cut-off times and the size of stripe_webhook.events in blocks.';

-- Internal: one batch.  Picks at most batch_size processed or ignored
-- events in heap blocks [first_block, end_block) that are due, with FOR
-- UPDATE SKIP LOCKED; deletes those processed before delete_before and sets
-- the payload of the others (processed before strip_before) to NULL.
-- picked < batch_size means nothing more is due in those blocks.
CREATE FUNCTION stripe_webhook.prune_events_step(
    delete_before timestamptz,
    strip_before timestamptz,
    first_block bigint,
    end_block bigint,
    batch_size integer,
    OUT picked integer,
    OUT deleted integer)
LANGUAGE sql VOLATILE
SET search_path = ''
AS $$
    WITH due AS (
        SELECT e.id, e.processed_at < delete_before AS expired
        FROM stripe_webhook.events e
        WHERE e.ctid >= pg_catalog.format('(%s,0)', first_block)::pg_catalog.tid
          AND e.ctid < pg_catalog.format('(%s,0)', end_block)::pg_catalog.tid
          AND e.status IN ('processed', 'ignored')
          AND (e.processed_at < delete_before
               OR (e.processed_at < strip_before AND e.payload IS NOT NULL))
        LIMIT batch_size
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM stripe_webhook.events e
        USING due
        WHERE e.id = due.id AND due.expired
        RETURNING e.id
    ), stripped AS (
        UPDATE stripe_webhook.events e
        SET payload = NULL
        FROM due
        WHERE e.id = due.id AND NOT due.expired
        RETURNING e.id
    )
    SELECT (SELECT pg_catalog.count(*) FROM due)::integer,
           (SELECT pg_catalog.count(*) FROM gone)::integer
$$;
REVOKE ALL ON FUNCTION stripe_webhook.prune_events_step(timestamptz, timestamptz, bigint, bigint, integer) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.prune_events_step(timestamptz, timestamptz, bigint, bigint, integer) IS
    'Internal to prune_events() and prune_events_batched(): one batch of deletions and payload strippings in a range of heap blocks.';

-- prune_events(older_than, batch_size): the whole run in the caller's
-- transaction; returns the number of events deleted.  The window of blocks
-- a batch scans grows while batches come back short and shrinks when they
-- fill up, so that a window rarely has to be scanned twice.
CREATE FUNCTION stripe_webhook.prune_events(older_than interval, batch_size integer DEFAULT 1000)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = ''
AS $$
DECLARE
    run record;
    step record;
    first_block bigint := 0;
    window_blocks bigint := 8;
    last_block bigint;
    deleted bigint := 0;
BEGIN
    SELECT * INTO run FROM stripe_webhook.prune_events_start(older_than, batch_size);
    WHILE first_block < run.end_block LOOP
        last_block := LEAST(first_block + window_blocks, run.end_block);
        SELECT * INTO step
        FROM stripe_webhook.prune_events_step(run.delete_before, run.strip_before,
                                              first_block, last_block, batch_size);
        deleted := deleted + step.deleted;
        IF step.picked < batch_size THEN
            first_block := last_block;
            IF step.picked < batch_size / 2 THEN
                window_blocks := LEAST(window_blocks * 2, 16384);
            END IF;
        ELSE
            window_blocks := GREATEST(window_blocks / 2, 1);
        END IF;
    END LOOP;
    RETURN deleted;
END
$$;
REVOKE ALL ON FUNCTION stripe_webhook.prune_events(interval, integer) FROM PUBLIC;
COMMENT ON FUNCTION stripe_webhook.prune_events(interval, integer) IS
    'Delete processed and ignored events processed before now() - older_than, in batches of batch_size rows (FOR UPDATE SKIP LOCKED), and strip the payloads stripe_webhook.payload_retention says are due; one transaction; returns the number deleted. Received and failed events are never touched. Errors: NULL older_than or batch_size (22004), negative older_than or batch_size < 1 (22023).';

-- prune_events_batched(older_than, batch_size): the same run with a COMMIT
-- after every batch, for large backlogs and for pg_cron.  A procedure that
-- commits can have neither SET search_path nor SECURITY DEFINER; every name
-- in it is schema-qualified and it runs with the caller's rights.  It
-- cannot run inside a transaction block (BEGIN ... CALL): 2D000.
CREATE PROCEDURE stripe_webhook.prune_events_batched(
    older_than interval,
    batch_size integer DEFAULT 1000,
    INOUT deleted bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    run record;
    step record;
    first_block bigint := 0;
    window_blocks bigint := 8;
    last_block bigint;
BEGIN
    deleted := 0;
    SELECT * INTO run FROM stripe_webhook.prune_events_start(older_than, batch_size);
    WHILE first_block < run.end_block LOOP
        last_block := LEAST(first_block + window_blocks, run.end_block);
        SELECT * INTO step
        FROM stripe_webhook.prune_events_step(run.delete_before, run.strip_before,
                                              first_block, last_block, batch_size);
        deleted := deleted + step.deleted;
        IF step.picked < batch_size THEN
            first_block := last_block;
            IF step.picked < batch_size / 2 THEN
                window_blocks := LEAST(window_blocks * 2, 16384);
            END IF;
        ELSE
            window_blocks := GREATEST(window_blocks / 2, 1);
        END IF;
        COMMIT;
    END LOOP;
END
$$;
REVOKE ALL ON PROCEDURE stripe_webhook.prune_events_batched(interval, integer, bigint) FROM PUBLIC;
COMMENT ON PROCEDURE stripe_webhook.prune_events_batched(interval, integer, bigint) IS
    'As prune_events(), with a COMMIT after every batch (CALL it outside a transaction block; 2D000 inside one); returns the number deleted in "deleted". For pg_cron and large backlogs.';

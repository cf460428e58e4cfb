-- Invalidation trigger for raw sources of incremental rollups. The triggers themselves are
-- created by hazwatch.rollups with a WHEN clause comparing the row's time against the source's
-- invalidation threshold, so rows newer than the threshold (the live edge) never call this.
-- TG_ARGV[0]: source name as recorded in _hazwatch.invalidation_log; TG_ARGV[1]: time column.
CREATE OR REPLACE FUNCTION _hazwatch.log_late_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    t_old timestamptz;
    t_new timestamptz;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        t_old := (to_jsonb(OLD) ->> TG_ARGV[1])::timestamptz;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        t_new := (to_jsonb(NEW) ->> TG_ARGV[1])::timestamptz;
    END IF;
    -- One entry per time touched: an update that moves a row far in time must not
    -- invalidate everything in between.
    INSERT INTO _hazwatch.invalidation_log (source, lo, hi)
    SELECT TG_ARGV[0], t, t FROM unnest(ARRAY[t_old, t_new]) AS t WHERE t IS NOT NULL;
    RETURN NULL;
END;
$$;

-- bench/verify/harness.sql: timing harness for run.sh (after plpgsql_verify.sql).

-- CPU time of this backend thread in nanoseconds (bench_cpu.c:
-- clock_gettime(CLOCK_THREAD_CPUTIME_ID)); not inflated by other load on
-- the machine.
CREATE OR REPLACE FUNCTION bench.cpu_ns()
RETURNS double precision
AS 'bench_cpu', 'bench_cpu_ns'
LANGUAGE C VOLATILE;

-- Time n calls of one variant, the arguments held in PL/pgSQL variables (so
-- nothing is constant-folded); returns CPU nanoseconds per call.  variant:
-- 'extension', 'plpgsql', 'plpgsql_immutable', or 'loop' (no call: the
-- cost of the driving loop itself).
CREATE OR REPLACE FUNCTION bench.time_calls(variant text, n integer, p text, h text, s text, at timestamptz)
RETURNS double precision
LANGUAGE plpgsql
AS $$
DECLARE
    -- fresh, uncompressed copies: a compressed argument would otherwise be
    -- decompressed by every call
    pl text := p || '';
    hl text := h || '';
    sl text := s || '';
    t0 double precision;
    r boolean;
    good integer := 0;
BEGIN
    t0 := bench.cpu_ns();
    IF variant = 'extension' THEN
        FOR i IN 1 .. n LOOP
            r := stripe_webhook.stripe_verify_signature(pl, hl, sl, 300, at);
            IF r THEN good := good + 1; END IF;
        END LOOP;
    ELSIF variant = 'plpgsql' THEN
        FOR i IN 1 .. n LOOP
            r := bench.plpgsql_verify(pl, hl, sl, 300, at);
            IF r THEN good := good + 1; END IF;
        END LOOP;
    ELSIF variant = 'plpgsql_immutable' THEN
        FOR i IN 1 .. n LOOP
            r := bench.plpgsql_verify_immutable(pl, hl, sl, 300, at);
            IF r THEN good := good + 1; END IF;
        END LOOP;
    ELSE
        FOR i IN 1 .. n LOOP
            r := (pl IS NOT NULL AND hl IS NOT NULL AND sl IS NOT NULL AND at IS NOT NULL);
            IF r THEN good := good + 1; END IF;
        END LOOP;
    END IF;
    IF good <> n THEN
        RAISE EXCEPTION 'variant % verified % of % calls', variant, good, n;
    END IF;
    RETURN (bench.cpu_ns() - t0) / n;
END
$$;

-- test/lib/catalog.sql: a stable text description of everything the
-- stripe_webhook extension owns, one line per fact, sorted.  Two databases
-- that print the same lines have the same extension objects, definitions,
-- privileges and comments.  Used by the upgrade test to compare a fresh
-- install with an upgraded one.
WITH ext AS (
    SELECT oid FROM pg_extension WHERE extname = 'stripe_webhook'
), members AS (
    SELECT d.classid, d.objid, d.objsubid
    FROM pg_depend d, ext
    WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), facts AS (
    -- every member object
    SELECT 'member: ' || pg_describe_object(classid, objid, objsubid) AS fact FROM members
    -- functions: full definition, ACL, comment
    UNION ALL
    SELECT 'function: ' || pg_get_functiondef(p.oid) FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT 'function acl: ' || p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, '(default)')
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT 'function comment: ' || p.oid::regprocedure::text || ' ' || coalesce(obj_description(p.oid, 'pg_proc'), '(none)')
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    -- relations: kind, ACL, comment, options
    UNION ALL
    SELECT 'relation: ' || c.oid::regclass::text || ' kind=' || c.relkind::text || ' acl=' || coalesce(c.relacl::text, '(default)')
           || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '(none)')
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    -- columns
    UNION ALL
    SELECT 'column: ' || c.oid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
           || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
           || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END
           || ' acl=' || coalesce(a.attacl::text, '(default)')
           || ' comment=' || coalesce(col_description(c.oid, a.attnum), '(none)')
    FROM members m
    JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    -- constraints, indexes, triggers, views, policies
    UNION ALL
    SELECT 'constraint: ' || co.conrelid::regclass::text || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
    FROM members m JOIN pg_constraint co ON m.classid = 'pg_class'::regclass AND co.conrelid = m.objid
    UNION ALL
    SELECT 'index: ' || pg_get_indexdef(i.indexrelid)
    FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
    UNION ALL
    SELECT 'trigger: ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid AND NOT t.tgisinternal
    UNION ALL
    SELECT 'view: ' || c.oid::regclass::text || ' ' || pg_get_viewdef(c.oid)
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'policy: ' || pol.polrelid::regclass::text || ' ' || pol.polname
    FROM members m JOIN pg_policy pol ON m.classid = 'pg_class'::regclass AND pol.polrelid = m.objid
    -- tables whose data pg_dump keeps
    UNION ALL
    SELECT 'config dump: ' || x::regclass::text
    FROM pg_extension e, unnest(e.extconfig) AS x WHERE e.extname = 'stripe_webhook'
    -- the schema itself
    UNION ALL
    SELECT 'schema: ' || n.nspname || ' acl=' || coalesce(n.nspacl::text, '(default)')
    FROM pg_namespace n WHERE n.nspname = 'stripe_webhook'
)
SELECT fact FROM facts ORDER BY fact;

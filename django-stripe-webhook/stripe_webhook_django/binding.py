"""The binding document, derived from the shop's models, and applying it.

The extension fulfils into whatever tables stripe_webhook.bind_shop(document)
names.  Here the document is built from the models' metadata (tables from
_meta.db_table, columns from field.column), so column names are written once,
in the models.  bind() installs the extension when the role may, gives the
few columns that need one a database default, and calls bind_shop.
"""
import datetime
import decimal
import json
import uuid

from django.db import DatabaseError, connections, models, transaction
from django.utils import timezone

from .conf import INSERTED_ROLES, LOGICAL_NAMES, ROLES, STATUS_KEYS, get_config


class BindError(Exception):
    """Binding is not possible as this role, or failed; str() says what to do."""


def _json_constant(value):
    """A Python default as a JSON scalar, or raise ValueError."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    raise ValueError("not a JSON scalar: %r" % (value,))


def _db_default_sql(field):
    """SQL expression for a Python-side default the database can compute
    itself (uuid4, now), or None."""
    if isinstance(field, (models.DateTimeField, models.DateField)) and (
            getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
            or field.default is timezone.now):
        return "pg_catalog.now()" if isinstance(field, models.DateTimeField) else "CURRENT_DATE"
    if isinstance(field, models.UUIDField) and field.default is uuid.uuid4:
        return "pg_catalog.gen_random_uuid()"
    return None


def build(config=None, apps=None):
    """(document, db_defaults): the bind_shop input document for the models,
    and [(table, column, sql expression)] database defaults that the
    document relies on (NOT NULL columns whose Django default is a Python
    callable the database can evaluate, e.g. uuid.uuid4 -> gen_random_uuid())."""
    config = config or get_config()
    document = {}
    db_defaults = []
    for role, _key in ROLES:
        model = config.model(role, apps)
        opts = model._meta
        columns = {}
        mapped = set()
        for logical, _required, _candidates in LOGICAL_NAMES[role]:
            field = config.field_for(role, logical, model)
            if field is None:
                continue
            columns[logical] = field.column
            mapped.add(field.column)
        entry = {"table": opts.db_table, "columns": columns}
        if role in INSERTED_ROLES:
            values = {}
            for field in opts.concrete_fields:
                if field.column in mapped or field.null:
                    continue
                expr = _db_default_sql(field)
                if expr is not None:
                    db_defaults.append((opts.db_table, field.column, expr))
                    continue
                if field.primary_key or not field.has_default() or callable(field.default):
                    continue
                try:
                    values[field.column] = _json_constant(field.get_default())
                except ValueError:
                    continue
            entry["values"] = values
            pk = opts.pk
            if pk.column in mapped and pk.column not in {c for _t, c, _e in db_defaults if _t == opts.db_table}:
                expr = _db_default_sql(pk)
                if expr is not None:
                    db_defaults.append((opts.db_table, pk.column, expr))
        document[role] = entry
    status = {k: config.status_values.get(k, k) for k in STATUS_KEYS}
    document["status_values"] = status
    if config.currency is not None:
        document["currency"] = config.currency
    return document, db_defaults


def _quote_table(connection, table):
    """A db_table as an SQL identifier ("schema"."table" when it has a dot
    that Django would quote as one name, as Django does)."""
    return connection.ops.quote_name(table)


def webhook_role(config, connection):
    """The database role of STRIPE_WEBHOOK["WEBHOOK_DATABASE"] when it is a
    connection of its own with another user than `connection`, else None."""
    if config.webhook_database == connection.alias:
        return None
    user = connections[config.webhook_database].settings_dict.get("USER")
    if not user or user == connection.settings_dict.get("USER"):
        return None
    return user


def webhook_grants(config, connection):
    """GRANTs that let the webhook view's role call the handler (and nothing
    else); none when the view shares the main connection.  In the test
    database of `manage.py test` this is what lets the view's role in."""
    role = webhook_role(config, connection)
    if role is None:
        return []
    name = connection.ops.quote_name(role)
    return ["GRANT USAGE ON SCHEMA stripe_webhook TO %s" % name,
            "GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_handle_webhook(text, text) TO %s" % name]


def _literal(text):
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_script(document, db_defaults, connection, config=None):
    """The SQL a superuser can run by hand to do what bind() does."""
    lines = ["-- stripe_webhook binding for this Django project (run as a superuser)",
             "CREATE EXTENSION IF NOT EXISTS stripe_webhook;"]
    config = config or get_config()
    grants = webhook_grants(config, connection)
    if grants:
        lines.append("DO $grant$ BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = %s) THEN %s; END IF; END $grant$;"
                     % (_literal(webhook_role(config, connection)), "; ".join(grants)))
    for table, column, expr in db_defaults:
        lines.append("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s;"
                     % (_quote_table(connection, table), connection.ops.quote_name(column), expr))
    text = json.dumps(document, indent=2, sort_keys=True)
    tag = "$binding$"
    lines.append("SELECT stripe_webhook.bind_shop(%s%s%s::jsonb);" % (tag, text, tag))
    return "\n".join(lines) + "\n"


def _fetch(cursor, sql, args=None):
    cursor.execute(sql, args)
    return cursor.fetchall()


def role_facts(cursor):
    """(current_user, is superuser, extension installed version or None,
    extension owner or None, bind_shop present).  Reads only the catalogs,
    so it works for a role without USAGE on the extension's schema."""
    row = _fetch(cursor, """
        SELECT current_user::text,
               (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),
               e.extversion, e.extowner::regrole::text,
               EXISTS (SELECT FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                       WHERE n.nspname = 'stripe_webhook' AND p.proname = 'bind_shop')
        FROM (SELECT 1) one
        LEFT JOIN pg_catalog.pg_extension e ON e.extname = 'stripe_webhook'""")[0]
    return row


def stored_equals(connection, document):
    """True when the stored binding is the document's normalised form; None
    when this role may not tell (no privileges) or the document has problems."""
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("""
                SELECT NOT b.builtin AND b.document = stripe_webhook.normalise_binding(%s::jsonb)
                FROM stripe_webhook.shop_binding b
                WHERE NOT EXISTS (SELECT FROM stripe_webhook.binding_problems(%s::jsonb))""",
                           [json.dumps(document), json.dumps(document)])
            row = cursor.fetchone()
    except DatabaseError:
        return None
    return row[0] if row else None


def how_to_bind(connection, who, why):
    """The message for a role that may not bind: what to run, and as whom."""
    name = connection.settings_dict.get("NAME")
    return (
        "stripe_webhook: the database role %s %s.\n"
        "Run, as a superuser (the extension is untrusted; bind_shop is for its owner), one of:\n"
        "    manage.py stripe_webhook_bind --sql | psql -d %s -U postgres -v ON_ERROR_STOP=1\n"
        "    (or manage.py stripe_webhook_bind with a superuser in settings.DATABASES[%r])\n"
        "The webhook answers 503 (Stripe retries) until the shop is bound."
        % (who, why, name, connection.alias))


def bind(alias=None, config=None, apps=None, connection=None, force=False):
    """Create the extension if needed and bind the models.  Returns
    "bound", "unchanged" (the stored binding already equals the models'),
    or raises BindError with the message for a role that may not."""
    config = config or get_config()
    connection = connection or connections[alias or config.database]
    document, db_defaults = build(config, apps)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        user, superuser, version, owner, has_bind = role_facts(cursor)
        if version is None:
            if not superuser:
                raise BindError(how_to_bind(connection, user, "may not create the extension stripe_webhook"))
            cursor.execute("CREATE EXTENSION IF NOT EXISTS stripe_webhook")
            user, superuser, version, owner, has_bind = role_facts(cursor)
        if not has_bind:
            raise BindError("stripe_webhook: the installed extension (version %s) has no bind_shop(); "
                            "run ALTER EXTENSION stripe_webhook UPDATE as a superuser" % version)
        if not superuser and user != owner:
            if not force and stored_equals(connection, document):
                return "unchanged"
            raise BindError(how_to_bind(connection, user,
                                        "is neither a superuser nor the extension's owner (%s)" % owner))
        role = webhook_role(config, connection)
        if role and _fetch(cursor, "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = %s", [role])[0][0]:
            for grant in webhook_grants(config, connection):
                cursor.execute(grant)
        for table, column, expr in db_defaults:
            has_default = _fetch(cursor, """
                SELECT a.atthasdef OR a.attidentity <> ''
                FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = pg_catalog.to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped""",
                                 [connection.ops.quote_name(table), column])
            if has_default and not has_default[0][0]:
                cursor.execute("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s"
                               % (_quote_table(connection, table), connection.ops.quote_name(column), expr))
        found = _fetch(cursor, "SELECT code, role, logical, message, detail, hint "
                               "FROM stripe_webhook.binding_problems(%s::jsonb)", [json.dumps(document)])
        if found:
            raise BindError("stripe_webhook: the models cannot be bound (%d problem%s; manage.py check lists them):\n%s"
                            % (len(found), "" if len(found) == 1 else "s", "\n".join(describe(p) for p in found)))
        if not force:
            same = _fetch(cursor, """
                SELECT NOT b.builtin AND b.document = stripe_webhook.normalise_binding(%s::jsonb)
                FROM stripe_webhook.shop_binding b""", [json.dumps(document)])
            if same and same[0][0]:
                return "unchanged"
        cursor.execute("SELECT stripe_webhook.bind_shop(%s::jsonb)", [json.dumps(document)])
    return "bound"


def describe(problem):
    """One problem row as readable lines."""
    code, role, logical, message, detail, hint = problem
    where = ".".join(x for x in (role, logical) if x)
    text = "  [%s] %s%s" % (code, "%s: " % where if where else "", message)
    if detail:
        text += "\n      %s" % detail
    if hint:
        text += "\n      hint: %s" % hint
    return text


def problems(config=None, connection=None):
    """Rows (code, role, logical, message, detail, hint) of
    stripe_webhook.binding_problems() for the models' document."""
    config = config or get_config()
    connection = connection or connections[config.database]
    document, _db_defaults = build(config)
    with connection.cursor() as cursor:
        return _fetch(cursor, "SELECT code, role, logical, message, detail, hint "
                              "FROM stripe_webhook.binding_problems(%s::jsonb)", [json.dumps(document)])

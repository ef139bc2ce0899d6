"""System check: the binding, validated against the database.

`manage.py check` (and runserver, migrate, test) runs it.  It derives the
binding document from the models, asks the database for
stripe_webhook.binding_problems(document) and reports each problem as an
Error whose id comes from the problem's code (stripe_webhook_django.E001...).
It also reports when the stored binding is not the models' one (E103/E104).
The database part is skipped while migrations are pending (the tables may
not exist yet; binding happens after migrate) and when
STRIPE_WEBHOOK["CHECK_DATABASE"] is False.
"""
import json

from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections

# binding_problems() codes -> check ids; keep the numbers stable.
CODES = {
    "unknown_role": "E001",
    "unknown_column_name": "E002",
    "missing_role": "E003",
    "missing_column_name": "E004",
    "bad_json": "E005",
    "table_not_found": "E006",
    "not_a_table": "E007",
    "column_not_found": "E008",
    "wrong_type": "E009",
    "type_mismatch": "E010",
    "numeric_scale": "E011",
    "no_default": "E012",
    "not_null_unmapped": "E013",
    "bad_value": "E014",
    "duplicate_status": "E015",
    "bad_status": "E016",
    "bad_currency": "E017",
    "missing_currency": "E018",
    "missing_privilege": "E019",
}
UNKNOWN_CODE = "E099"
ID = "stripe_webhook_django.%s"


def _pending_migrations(connection):
    """True when the database has unapplied migrations (or none table)."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def problem_messages(rows, config):
    """Check messages for binding_problems() rows."""
    from .conf import ROLES

    models = dict((role, config.models[role]) for role, _k in ROLES)
    out = []
    for code, role, logical, message, detail, hint in rows:
        where = ".".join(x for x in (role, logical) if x)
        text = "%s%s" % ("%s: " % where if where else "", message)
        if detail:
            text += " (%s)" % detail
        fix = hint or ""
        if role in models:
            fix = (fix + " " if fix else "") + (
                'The %s role is the model %s; map a logical name with STRIPE_WEBHOOK["FIELDS"]["%s"].'
                % (role, models[role], where if logical else role + ".<name>"))
        out.append(Error(text, hint=fix or None, obj="settings.STRIPE_WEBHOOK",
                         id=ID % CODES.get(code, UNKNOWN_CODE)))
    return out


@register("stripe_webhook")
def check_binding(app_configs=None, databases=None, **kwargs):
    """Validate settings.STRIPE_WEBHOOK and the binding in the database."""
    from . import binding
    from .conf import get_config

    try:
        config = get_config()
        document, _db_defaults = binding.build(config)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), obj="settings.STRIPE_WEBHOOK", id=ID % "E100")]
    if not config.check_database:
        return []
    connection = connections[config.database]
    try:
        if _pending_migrations(connection):
            return []
        with connection.cursor() as cursor:
            cursor.execute("""
                SELECT e.extversion,
                       EXISTS (SELECT FROM pg_catalog.pg_proc p
                               JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                               WHERE n.nspname = 'stripe_webhook' AND p.proname = 'binding_problems')
                FROM (SELECT 1) one LEFT JOIN pg_catalog.pg_extension e ON e.extname = 'stripe_webhook'""")
            version, has_problems = cursor.fetchone()
            if version is None:
                return [Error("the stripe_webhook extension is not installed in database %r"
                              % connection.settings_dict.get("NAME"),
                              hint="Run manage.py stripe_webhook_bind as a superuser (it creates the extension "
                                   "and binds the models), or its --sql output with psql as a superuser.",
                              obj="settings.STRIPE_WEBHOOK", id=ID % "E101")]
            if not has_problems:
                return [Error("the installed stripe_webhook extension (version %s) cannot bind a shop's tables"
                              % version, hint="Run ALTER EXTENSION stripe_webhook UPDATE as a superuser.",
                              obj="settings.STRIPE_WEBHOOK", id=ID % "E102")]
            cursor.execute("SELECT code, role, logical, message, detail, hint "
                           "FROM stripe_webhook.binding_problems(%s::jsonb)", [json.dumps(document)])
            rows = cursor.fetchall()
            if rows:
                return problem_messages(rows, config)
            cursor.execute("""
                SELECT b.builtin, b.document = stripe_webhook.normalise_binding(%s::jsonb)
                FROM stripe_webhook.shop_binding b""", [json.dumps(document)])
            builtin, same = cursor.fetchone()
    except DatabaseError as exc:
        return [Warning("could not check the stripe_webhook binding in database %r: %s"
                        % (connection.alias, str(exc).strip().splitlines()[0] if str(exc).strip() else exc),
                        hint="The check needs a connection and EXECUTE on stripe_webhook.binding_problems(jsonb) "
                             "(see sql/roles.sql); set STRIPE_WEBHOOK['CHECK_DATABASE'] = False to skip it.",
                        obj="settings.STRIPE_WEBHOOK", id=ID % "W001")]
    if builtin:
        return [Error("the shop's models are not bound: the extension fulfils into its built-in tables",
                      hint="Run manage.py stripe_webhook_bind (as a superuser), or migrate as a superuser.",
                      obj="settings.STRIPE_WEBHOOK", id=ID % "E103")]
    if not same:
        return [Error("the binding stored in the database differs from the one the models and "
                      "settings.STRIPE_WEBHOOK describe", hint="Run manage.py stripe_webhook_bind (as a superuser).",
                      obj="settings.STRIPE_WEBHOOK", id=ID % "E104")]
    return []

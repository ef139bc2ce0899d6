"""The Stripe webhook endpoint: one SQL call.

Stripe POSTs each event with a Stripe-Signature header.  The view hands the
exact body and the header to stripe_webhook.stripe_handle_webhook(payload,
signature_header) on STRIPE_WEBHOOK["WEBHOOK_DATABASE"] (default: DATABASE)
and answers with the HTTP status and JSON the database chose.  Signature
verification (every active signing secret), duplicate detection, the event
inbox and the fulfilment into the shop's bound tables all happen inside that
call, in its own transaction.
"""
import json
import logging

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .conf import get_config

logger = logging.getLogger("stripe_webhook_django")

HANDLER_SQL = "SELECT stripe_webhook.stripe_handle_webhook(%s, %s)"


def _reply(status, message, **extra):
    """JSON answer {"status": ..., "message": ...} with that HTTP status;
    refusals and failures are logged (the reason and the event id only)."""
    if status >= 400:
        logger.warning("stripe webhook answered %s: %s%s", status, message,
                       " (event %s)" % extra["event_id"] if extra.get("event_id") else "")
    body = {"status": status, "message": message}
    body.update(extra)
    return JsonResponse(body, status=status)


def _call_handler(alias, payload, signature):
    """Run the handler on `alias` outside any transaction of the request.

    With ATOMIC_REQUESTS the view is excluded (see below).  Should the
    connection still be inside an atomic block (a caller's own
    transaction.atomic(), a TestCase), the call runs in it: the handler's
    writes then commit or roll back with that transaction."""
    with connections[alias].cursor() as cursor:
        cursor.execute(HANDLER_SQL, [payload, signature])
        row = cursor.fetchone()
    return row[0] if row else None


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verify and process one Stripe event; answer with the handler's status.

    request.body is the exact byte string Stripe signed.  It is decoded as
    strict UTF-8 (Stripe sends UTF-8 JSON), never parsed or re-serialised:
    any change, even to whitespace, would break the signature.  A missing
    header is passed as NULL; the handler answers 400 for it.
    """
    try:
        payload = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return _reply(400, "request body is not valid UTF-8")
    signature = request.META.get("HTTP_STRIPE_SIGNATURE")
    # PostgreSQL text cannot hold NUL; Stripe never sends it.
    if "\x00" in payload or (signature is not None and "\x00" in signature):
        return _reply(400, "request contains a NUL character")

    alias = get_config().webhook_database
    try:
        result = _call_handler(alias, payload, signature)
    except DatabaseError as exc:
        # Connection lost, server restarting, privilege missing, binding no
        # longer matching the tables...: 503 so that Stripe retries later.
        # Log the error class and SQLSTATE only, never the body or signature.
        logger.error("stripe_handle_webhook failed: %s (SQLSTATE %s)", type(exc).__name__,
                     getattr(getattr(exc, "__cause__", None), "pgcode", None))
        return _reply(503, "database unavailable, retry later")

    if isinstance(result, str):  # jsonb arrives as dict with psycopg2; be safe
        result = json.loads(result)
    if not isinstance(result, dict):
        logger.error("stripe_handle_webhook returned no result")
        return _reply(500, "webhook handler returned no result")
    status = result.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        logger.error("stripe_handle_webhook returned an invalid status")
        return _reply(500, "webhook handler returned an invalid status")
    extra = {k: v for k, v in result.items() if k not in ("status", "message") and v is not None}
    return _reply(status, result.get("message"), **extra)


# ATOMIC_REQUESTS would wrap the view in a transaction on every alias that
# sets it and commit only after the answer was built: a failed commit would
# turn an answered 200 into lost work.  The handler manages its own
# transaction, so the view is exempt on every alias.
stripe_webhook._non_atomic_requests = set(settings.DATABASES)

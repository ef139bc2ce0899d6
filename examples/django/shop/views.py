"""The Stripe webhook endpoint: one raw SQL call.

Stripe POSTs each event to /api/payments/stripe_webhook/ with a
Stripe-Signature header.  The view hands the exact body and the header to
stripe_webhook.stripe_handle_webhook(payload, signature_header) and answers
with the HTTP status the database chose.  Signature verification (against
every active signing secret), duplicate detection, the event inbox and the
fulfilment (cart -> order, stock) all happen inside that call, in one
transaction.  No Stripe SDK is needed.
"""
import json
import logging

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

logger = logging.getLogger(__name__)

HANDLER_SQL = "SELECT stripe_webhook.stripe_handle_webhook(%s, %s)"


def _reply(status, message, **extra):
    """JSON answer {"status": ..., "message": ...} with that HTTP status;
    refusals and failures are logged (the reason and the event id only)."""
    if status >= 400:
        logger.warning(
            "stripe webhook answered %s: %s%s",
            status,
            message,
            " (event %s)" % extra["event_id"] if extra.get("event_id") else "",
        )
    body = {"status": status, "message": message}
    body.update(extra)
    return JsonResponse(body, status=status)


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
    signature = request.headers.get("Stripe-Signature")
    # PostgreSQL text cannot hold NUL; Stripe never sends it.
    if "\x00" in payload or (signature is not None and "\x00" in signature):
        return _reply(400, "request contains a NUL character")

    alias = getattr(settings, "STRIPE_WEBHOOK_DATABASE", "default")
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(HANDLER_SQL, [payload, signature])
            row = cursor.fetchone()
    except DatabaseError as exc:
        # Connection lost, server restarting, privilege missing...: answer
        # 5xx so that Stripe retries later.  Log the error class and
        # SQLSTATE only: never the body or the signature.
        logger.error(
            "stripe_handle_webhook failed: %s (SQLSTATE %s)",
            type(exc).__name__,
            getattr(getattr(exc, "__cause__", None), "pgcode", None),
        )
        return _reply(503, "database unavailable, retry later")

    result = row[0] if row else None
    if isinstance(result, str):  # jsonb arrives as dict with psycopg2; be safe
        result = json.loads(result)
    if not isinstance(result, dict):
        logger.error("stripe_handle_webhook returned no result")
        return _reply(500, "webhook handler returned no result")
    status = result.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        logger.error("stripe_handle_webhook returned an invalid status")
        return _reply(500, "webhook handler returned an invalid status")

    message = result.get("message")
    extra = {k: result[k] for k in ("event_id", "event_type", "order_id") if result.get(k) is not None}
    return _reply(status, message, **extra)

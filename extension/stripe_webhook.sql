-- stripe_webhook: Stripe Checkout webhook verification and fulfilment
-- inside PostgreSQL.  This is the hand-edited source of the current
-- version's install script (the Makefile copies it to
-- stripe_webhook--<version>.sql).  Every object lives in the fixed schema
-- stripe_webhook; every name inside a function body is schema-qualified.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION stripe_webhook" to load this file. \quit

-- Privileges: every function is REVOKEd from PUBLIC right after it is
-- created and granted explicitly where callers need it.

---------------------------------------------------------------------------
-- Section: signatures (issue 2)
---------------------------------------------------------------------------

---------------------------------------------------------------------------
-- Section: shop schema and fulfilment (issue 3)
---------------------------------------------------------------------------

---------------------------------------------------------------------------
-- Section: webhook handler, signing secrets, event inbox (issue 4)
---------------------------------------------------------------------------

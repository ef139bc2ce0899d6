/*-------------------------------------------------------------------------
 *
 * jsonb_util.h
 *		The jsonb getters shared by every file that reads a document: one
 *		meaning per name.  None of them validates content; callers check
 *		what they read (session.c, webhook_event.c, binding.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_JSONB_UTIL_H
#define STRIPE_WEBHOOK_JSONB_UTIL_H

#include "utils/jsonb.h"

/*
 * JsonbGetKey
 *		Look key up in an object container (a NULL container has no keys).
 *		False when absent; a JSON null is returned as a jbvNull value.
 */
static inline bool
JsonbGetKey(JsonbContainer *obj, const char *key, JsonbValue *out)
{
	return obj != NULL &&
		getKeyJsonValueFromContainer(obj, key, strlen(key), out) != NULL;
}

/* JsonbIsObject: v is a JSON object (a binary container) */
static inline bool
JsonbIsObject(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

/* JsonbCopyString: palloc'd, NUL-terminated copy of a jbvString, unchecked */
static inline char *
JsonbCopyString(const JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* JsonbStringEquals: v is a JSON string equal to s */
static inline bool
JsonbStringEquals(const JsonbValue *v, const char *s)
{
	return v->type == jbvString && v->val.string.len == strlen(s) &&
		memcmp(v->val.string.val, s, v->val.string.len) == 0;
}

/* JsonbPushPair: push "key": *value onto an object being built */
static inline void
JsonbPushPair(JsonbParseState **state, const char *key, JsonbValue *value)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &k);
	pushJsonbValue(state, WJB_VALUE, value);
}

/* JsonbPushString: push "key": "value", or "key": null for a NULL value */
static inline void
JsonbPushString(JsonbParseState **state, const char *key, const char *value)
{
	JsonbValue	v;

	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) value;
		v.val.string.len = strlen(value);
	}
	JsonbPushPair(state, key, &v);
}

#endif							/* STRIPE_WEBHOOK_JSONB_UTIL_H */

/*-------------------------------------------------------------------------
 *
 * asan_early_init.c
 *		A tiny library preloaded right after libasan into the sanitizer
 *		test's postmaster (test/sanitize/run.sh); not part of the product.
 *
 * With libasan in LD_PRELOAD, AddressSanitizer initializes lazily, on the
 * first malloc().  In PostgreSQL 15 on Debian 12 that first malloc()
 * happens inside bindtextdomain(), called by libgpg-error's constructor
 * (pulled in through libgcrypt) while glibc holds its gettext lock; ASan's
 * initialization then calls dlerror(), which takes the same lock, and the
 * lock is left corrupted: the postmaster hangs in its own bindtextdomain()
 * at startup (google/sanitizers#1270).  This wrapper makes the first
 * bindtextdomain() call malloc() before glibc's, outside the lock, so ASan
 * is initialized first, and then hands over to glibc.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

char	   *bindtextdomain(const char *domainname, const char *dirname);

/*
 * bindtextdomain
 *		Initialize ASan (one malloc) on the first call, then call glibc's.
 */
char *
bindtextdomain(const char *domainname, const char *dirname)
{
	static char *(*real) (const char *, const char *) = NULL;

	if (real == NULL)
	{
		/* volatile: the compiler must not drop the malloc/free pair */
		void	   *volatile p = malloc(1);

		free(p);
		real = (char *(*) (const char *, const char *)) dlsym(RTLD_NEXT, "bindtextdomain");
	}
	return real(domainname, dirname);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading a library and its symbols on first use; see dlopen.h for why. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

#include "util/dlopen.h"

static _Thread_local const char *last_error;

const char *dlopen_error(void)
{
	return last_error ? last_error : "unknown error";
}

int dlopen_symbols(void **handle, const char *soname, ...)
{
	enum {
		MAX_SYMBOLS = 128
	};
	void *resolved[MAX_SYMBOLS];
	void **targets[MAX_SYMBOLS];
	const char *name;
	size_t n = 0;
	va_list ap;
	void *dl;

	dl = dlopen(soname, RTLD_NOW | RTLD_NODELETE);
	if (!dl) {
		last_error = dlerror();
		return -EOPNOTSUPP;
	}
	va_start(ap, soname);
	while ((name = va_arg(ap, const char *))) {
		void **target = va_arg(ap, void **);

		if (n == MAX_SYMBOLS) {
			va_end(ap);
			last_error = "too many symbols for one library";
			return -E2BIG;
		}
		resolved[n] = dlsym(dl, name);
		if (!resolved[n]) {
			va_end(ap);
			last_error = dlerror();
			return -ENXIO;
		}
		targets[n++] = target;
	}
	va_end(ap);
	for (size_t i = 0; i < n; i++)
		*targets[i] = resolved[i];
	*handle = dl;
	return 0;
}

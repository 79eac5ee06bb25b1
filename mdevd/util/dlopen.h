/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dlopen: the heavy libraries (gRPC, libvirt, libsystemd, libxml2) are loaded when a
 * command first needs them, not at exec. Linked normally they pull in over a hundred
 * shared objects whose relocation cost every command ~50 ms before main(); `mdevd types`
 * needs none of them. The adapters still include the libraries' own headers and call
 * through a table typed from them, so the compiler checks every call as before.
 *
 * Each adapter keeps one table of function pointers, filled once under pthread_once()
 * and read-only afterwards (the one exception to "no mutable globals", the same one
 * systemd makes for its dlopen()ed dependencies).
 */
#pragma once

/* DLSYM_TYPE(sym): the pointer type of a library function, from its header. */
#define DLSYM_TYPE(sym) __typeof__(&(sym))

/* DLSYM_ARG(table, sym): the (name, &pointer) pair that dlopen_symbols() takes. */
#define DLSYM_ARG(table, sym) #sym, (void **)&(table).sym

/*
 * dlopen_symbols - dlopen() @soname (RTLD_NOW | RTLD_NODELETE) and resolve every symbol
 * given as (const char *name, void **ptr) pairs ending with NULL. Pointers are written
 * only when all resolve. On success *handle is the library (never closed: the symbols
 * stay in use). Returns 0, -EOPNOTSUPP when the library cannot be loaded (not
 * installed), or -ENXIO when a symbol is missing (a version too old). Logs nothing;
 * dlopen_error() says why.
 */
int dlopen_symbols(void **handle, const char *soname, ...);

/* dlopen_error - the dynamic loader's last message for this thread, or "unknown error". */
const char *dlopen_error(void);

/*
 * Every library mdevd loads at run time, by soname (the linked ones are in the ELF
 * header, these are not). deploy/kubernetes/Containerfile reads these lines to install
 * their packages in the image, so keep one per line in this form.
 */
#define SONAME_GPR	  "libgpr.so.29"	   /* libgrpc29 */
#define SONAME_LIBCURL	  "libcurl.so.4"	   /* libcurl4: the API server client (OpenSSL) */
#define SONAME_GRPC	  "libgrpc_unsecure.so.29" /* libgrpc29: gRPC core without TLS */
#define SONAME_LIBSYSTEMD "libsystemd.so.0"	   /* libsystemd0 */
#define SONAME_LIBVIRT	  "libvirt.so.0"	   /* libvirt0 */
#define SONAME_LIBXML2	  "libxml2.so.2"	   /* libxml2 */
#define SONAME_MICROHTTPD "libmicrohttpd.so.12"	   /* libmicrohttpd12 */

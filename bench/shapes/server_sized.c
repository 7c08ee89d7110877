/*
 * The server shape (server.c) over C++'s allocation functions, as a C++
 * program compiled with sized deallocation calls them: `operator new(size_t)`
 * and `operator delete(void *, size_t)`, by their mangled names. Linked with
 * libstdc++, whose definitions (forwarding to malloc and free) serve when the
 * allocator in front exports none.
 */
#include <stddef.h>

void *_Znwm(size_t n);
void _ZdlPvm(void *p, size_t n);

#define SHAPE_NEW(n)       _Znwm(n)
#define SHAPE_DELETE(p, n) _ZdlPvm(p, n)
#define SHAPE_NAME         "server-sized"

#include "server.c"

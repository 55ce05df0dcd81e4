/*
 * symver_2_34 - the twin of symver_2_2_5 bound to pthread_create@GLIBC_2.34 (what
 * binaries linked against glibc 2.34 or later use). See symver_2_2_5.c.
 */
#define GR_SYMVER "GLIBC_2.34"
#include "symver_2_2_5.c"

/* green starts when libgreen.so is loaded, unless an interposer ran first (shim/init.c). */
#include "interpose.h"

__attribute__((constructor)) static void green_ctor(void)
{
	gr_init();
}

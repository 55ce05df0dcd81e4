/* A module with initial-exec TLS, for tests/progs/tls_dlopen: the linker marks it
 * DF_STATIC_TLS, so dlopen gives its block a fixed place in every thread's static TLS
 * area and copies the initial image there in each thread it knows of (green's Gs get it
 * from shim/tls.c).  Small: the static area keeps only a few hundred bytes for such
 * modules.  The same interface as libtlsmod.c. */
__attribute__((tls_model("initial-exec"))) __thread int tlsmod_counter = 42;
__attribute__((tls_model("initial-exec"))) __thread char tlsmod_buf[64] = "initial";

int *tlsmod_counter_addr(void)
{
	return &tlsmod_counter;
}

char *tlsmod_buf_addr(void)
{
	return tlsmod_buf;
}

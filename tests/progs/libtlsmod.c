/* A module with TLS of its own, for tests/progs/tls_dlopen: loaded with dlopen, so its
 * blocks are allocated on demand (__tls_get_addr), outside the static TLS area. */
__thread int tlsmod_counter = 42;
__thread char tlsmod_buf[4096] = "initial";

int *tlsmod_counter_addr(void)
{
	return &tlsmod_counter;
}

char *tlsmod_buf_addr(void)
{
	return tlsmod_buf;
}

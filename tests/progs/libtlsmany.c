/* A small module with TLS, for tests/progs/tls_many, which loads hundreds of copies of
 * it: each copy is a module id of its own. */
__thread int tlsmany_value = 42;

int *tlsmany_addr(void)
{
	return &tlsmany_value;
}

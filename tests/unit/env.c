/* Unit tests of shim/env.c: GREEN_* parsing; a bad value gets one line and the default. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdlib.h>

#include "env.h"

Test(env, parse_size_suffixes)
{
	size_t n;
	cr_assert_eq(gr_env_parse_size("65536", &n), 0);
	cr_assert_eq(n, 65536);
	cr_assert_eq(gr_env_parse_size("256K", &n), 0);
	cr_assert_eq(n, 256 << 10);
	cr_assert_eq(gr_env_parse_size("8m", &n), 0);
	cr_assert_eq(n, 8 << 20);
	cr_assert_eq(gr_env_parse_size("1G", &n), 0);
	cr_assert_eq(n, 1ul << 30);
	cr_assert_eq(gr_env_parse_size("", &n), -EINVAL);
	cr_assert_eq(gr_env_parse_size("-4", &n), -EINVAL);
	cr_assert_eq(gr_env_parse_size("12x", &n), -EINVAL);
	cr_assert_eq(gr_env_parse_size("99999999999999999999", &n), -EINVAL);
	cr_assert_eq(gr_env_parse_size("17179869184G", &n), -EINVAL);
}

Test(env, defaults_and_values)
{
	struct gr_config c;
	unsetenv("GREEN_MAXPROCS");
	unsetenv("GOMAXPROCS");
	setenv("GREEN_MAXTHREADS", "500", 1);
	setenv("GREEN_STACKSIZE", "1M", 1);
	gr_env_read(&c);
	cr_assert_eq(c.maxprocs, gr_env_ncpu());
	cr_assert_eq(c.maxthreads, 500);
	cr_assert_eq(c.stacksize, 1 << 20);
	setenv("GOMAXPROCS", "3", 1);
	gr_env_read(&c);
	cr_assert_eq(c.maxprocs, 3, "GOMAXPROCS is the fallback");
	setenv("GREEN_MAXPROCS", "2", 1);
	gr_env_read(&c);
	cr_assert_eq(c.maxprocs, 2, "GREEN_MAXPROCS wins");
}

static void redirect(void)
{
	cr_redirect_stderr();
}

Test(env, bad_values_warn_once_and_use_default, .init = redirect)
{
	struct gr_config c;
	setenv("GREEN_MAXPROCS", "lots", 1);
	unsetenv("GREEN_MAXTHREADS");
	unsetenv("GREEN_STACKSIZE");
	gr_env_read(&c);
	cr_assert_eq(c.maxprocs, gr_env_ncpu());
	fflush(stderr);
	cr_assert_stderr_eq_str("green: ignoring GREEN_MAXPROCS=lots (not a whole number); "
				"using the default\n");
}

Test(env, out_of_range_is_rejected, .init = redirect)
{
	struct gr_config c;
	setenv("GREEN_MAXPROCS", "0", 1);
	setenv("GREEN_STACKSIZE", "100", 1);
	gr_env_read(&c);
	cr_assert_eq(c.maxprocs, gr_env_ncpu());
	cr_assert_eq(c.stacksize, 0);
}

/* preempt_simd: two threads spin in loops with no calls while holding values in xmm0-14
 * (and the upper halves of ymm0-7 when the CPU has AVX); each must see its own values
 * after every preemption.  Under GREEN_MAXPROCS=1 the threads can only both start if
 * green preempts: without it the first spins forever.
 * Final line: SIMD=ok (or FAIL). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static atomic_int started[2];
static int has_avx;

/* Checks xmm0-14 (and ymm0-7 upper halves) against pat for n rounds; returns 0 when they
 * always matched. */
static int spin_check(const uint8_t *pat, long n)
{
	int bad = 0;
	if (has_avx) {
		__asm__ volatile(
			"vmovdqu 0(%[p]), %%ymm0\n vmovdqu 32(%[p]), %%ymm1\n"
			"vmovdqu 64(%[p]), %%ymm2\n vmovdqu 96(%[p]), %%ymm3\n"
			"vmovdqu 128(%[p]), %%ymm4\n vmovdqu 160(%[p]), %%ymm5\n"
			"vmovdqu 192(%[p]), %%ymm6\n vmovdqu 224(%[p]), %%ymm7\n"
			"1:\n"
			"vextractf128 $1, %%ymm0, %%xmm15\n vpcmpeqb 16(%[p]), %%xmm15, %%xmm15\n"
			"vpmovmskb %%xmm15, %%eax\n cmp $0xffff, %%eax\n jne 2f\n"
			"vextractf128 $1, %%ymm3, %%xmm15\n vpcmpeqb 112(%[p]), %%xmm15, %%xmm15\n"
			"vpmovmskb %%xmm15, %%eax\n cmp $0xffff, %%eax\n jne 2f\n"
			"vextractf128 $1, %%ymm7, %%xmm15\n vpcmpeqb 240(%[p]), %%xmm15, %%xmm15\n"
			"vpmovmskb %%xmm15, %%eax\n cmp $0xffff, %%eax\n jne 2f\n"
			"vpcmpeqb 0(%[p]), %%xmm0, %%xmm15\n vpmovmskb %%xmm15, %%eax\n"
			"cmp $0xffff, %%eax\n jne 2f\n"
			"vpcmpeqb 160(%[p]), %%xmm5, %%xmm15\n vpmovmskb %%xmm15, %%eax\n"
			"cmp $0xffff, %%eax\n jne 2f\n"
			"dec %[n]\n jnz 1b\n jmp 3f\n"
			"2: movl $1, %[bad]\n"
			"3: vzeroupper\n"
			: [bad] "+m"(bad), [n] "+r"(n)
			: [p] "r"(pat)
			: "rax", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			  "xmm15", "cc", "memory");
		if (bad)
			return bad;
		n = 1;
	}
	__asm__ volatile(
		"movdqu 256(%[p]), %%xmm8\n movdqu 272(%[p]), %%xmm9\n"
		"movdqu 288(%[p]), %%xmm10\n movdqu 304(%[p]), %%xmm11\n"
		"movdqu 320(%[p]), %%xmm12\n movdqu 336(%[p]), %%xmm13\n"
		"movdqu 352(%[p]), %%xmm14\n"
		"1:\n"
		"movdqa %%xmm8, %%xmm15\n pcmpeqb 256(%[p]), %%xmm15\n pmovmskb %%xmm15, %%eax\n"
		"cmp $0xffff, %%eax\n jne 2f\n"
		"movdqa %%xmm11, %%xmm15\n pcmpeqb 304(%[p]), %%xmm15\n pmovmskb %%xmm15, %%eax\n"
		"cmp $0xffff, %%eax\n jne 2f\n"
		"movdqa %%xmm14, %%xmm15\n pcmpeqb 352(%[p]), %%xmm15\n pmovmskb %%xmm15, %%eax\n"
		"cmp $0xffff, %%eax\n jne 2f\n"
		"dec %[n]\n jnz 1b\n jmp 3f\n"
		"2: movl $1, %[bad]\n"
		"3:\n"
		: [bad] "+m"(bad), [n] "+r"(n)
		: [p] "r"(pat)
		: "rax", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc",
		  "memory");
	return bad;
}

static int result[2];

static void *run(void *arg)
{
	int i = (int)(intptr_t)arg;
	uint8_t pat[384] __attribute__((aligned(32)));

	for (int k = 0; k < 384; k++)
		pat[k] = (uint8_t)(k * 7 + i * 101 + 3);
	atomic_store(&started[i], 1);
	while (!atomic_load_explicit(&started[1 - i], memory_order_relaxed))
		result[i] |= spin_check(pat, 1000);
	/* Long enough for several preemptions of each thread. */
	for (int r = 0; r < 4; r++)
		result[i] |= spin_check(pat, 40000000);
	return NULL;
}

int main(void)
{
	pthread_t t[2];

	__builtin_cpu_init();
	has_avx = __builtin_cpu_supports("avx");
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, run, (void *)(intptr_t)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("avx=%d results=%d,%d\n", has_avx, result[0], result[1]);
	printf("SIMD=%s\n", result[0] || result[1] ? "FAIL" : "ok");
	return result[0] || result[1];
}

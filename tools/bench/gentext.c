/* gentext: writes BYTES bytes of reproducible text to stdout, for the real-program benchmark
 * (tools/bench-programs.sh).  Lines of 4 to 16 words drawn from a vocabulary of 8192 made-up
 * words, skewed so that short common words dominate as in prose, each line ending with a
 * number: compressors find it moderately compressible (gzip about 2.5x) and sort sees
 * mostly distinct lines.  The same SEED always gives the same bytes.
 * Usage: gentext BYTES [SEED=1] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NWORDS 8192

static uint64_t state;

static uint64_t next(void) /* xorshift64* */
{
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dull;
}

int main(int argc, char **argv)
{
	static char words[NWORDS][16];
	static char line[512];
	long long left = argc > 1 ? atoll(argv[1]) : 0;

	if (argc < 2 || left <= 0) {
		fprintf(stderr, "usage: gentext BYTES [SEED]\n");
		return 2;
	}
	state = argc > 2 ? strtoull(argv[2], NULL, 10) * 0x9e3779b97f4a7c15ull + 1 : 1;
	for (int i = 0; i < NWORDS; i++) {
		int len = 2 + (int)(next() % 10);
		for (int k = 0; k < len; k++)
			words[i][k] = (char)('a' + next() % 26);
	}
	while (left > 0) {
		int n = 0, nw = 4 + (int)(next() % 13);
		for (int w = 0; w < nw; w++) {
			/* The minimum of two draws favours low indices: a skewed vocabulary. */
			uint64_t a = next() % NWORDS, b = next() % NWORDS;
			const char *word = words[a < b ? a : b];
			size_t len = strlen(word);
			memcpy(line + n, word, len);
			n += (int)len;
			line[n++] = ' ';
		}
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%u\n", (unsigned)(next() % 100000));
		if (n > left)
			n = (int)left;
		if (fwrite(line, 1, (size_t)n, stdout) != (size_t)n)
			return 1;
		left -= n;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

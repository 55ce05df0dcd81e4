/*
 * The asynchronous-preemption stub (Go: asyncPreempt in preempt_amd64.s).
 *
 * The SIGURG handler (shim/preempt.c) never yields inside the handler.  When the
 * interrupted G is at a safe point it rewrites the signal context so that, once the kernel
 * returns from the handler (sigreturn), the G "calls" gr_preempt_stub instead of resuming:
 *
 *   interrupted rsp = S, rip = P.  The handler sets
 *     E = (S - 128) & ~15          (skip the red zone, which leaf code may be using)
 *     [E + 0] = P, [E + 8] = S
 *     rsp = E, rip = gr_preempt_stub
 *
 * Register contract: on entry every register but rsp and rip holds the interrupted value,
 * and rsp = E as above.  The stub saves rflags, all sixteen general registers and the full
 * extended state (xsave64 with every component XCR0 enables: x87, SSE, AVX, AVX-512 ...;
 * fxsave64 where the OS has not enabled xsave) in a 64-byte aligned area on the G's stack
 * below the red zone, clears DF as the ABI requires, and calls gr_preempt_yield() (C,
 * shim/proc.c), which puts the G on a run queue and returns when some M runs it again.
 * Then it restores everything and jumps to P with rsp = S.  The one word it needs outside
 * the stack for that jump is GR_TCB_PREEMPT_PC (%fs:64, tcbhead_t.unused_vgetcpu_cache[1],
 * unused by glibc): fs is the G's own TCB before and after the yield, and no other code
 * writes that word.
 *
 * CFI: rbx holds E across the call, so an unwinder (gdb, libunwind, backtrace) can walk
 * from the stub into the interrupted frame: CFA = [E + 8], return address at [E + 0], and
 * the callee-saved registers at their save slots.
 */
#define GR_TCB_PREEMPT_PC 64

/* DWARF register numbers: rbx 3, rbp 6, r12-r15 12-15, rip 16. */
#define DW_OP_breg3 0x73
#define DW_OP_deref 0x06
#define DW_CFA_def_cfa_expression 0x0f
#define DW_CFA_expression 0x10

	.text
	.globl	gr_preempt_stub
	.hidden	gr_preempt_stub
	.type	gr_preempt_stub, @function
	.p2align 4
gr_preempt_stub:
	.cfi_startproc simple
	/* At entry: CFA = [rsp + 8], return address at [rsp]. */
	.cfi_escape DW_CFA_def_cfa_expression, 3, 0x77, 8, DW_OP_deref	/* breg7(rsp)+8, deref */
	.cfi_escape DW_CFA_expression, 16, 2, 0x77, 0			/* rip at rsp+0 */
	pushfq
	pushq	%rax		/* E - 16 */
	pushq	%rbx		/* E - 24 */
	pushq	%rcx		/* E - 32 */
	pushq	%rdx		/* E - 40 */
	pushq	%rsi		/* E - 48 */
	pushq	%rdi		/* E - 56 */
	pushq	%rbp		/* E - 64 */
	pushq	%r8		/* E - 72 */
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12		/* E - 104 */
	pushq	%r13
	pushq	%r14
	pushq	%r15		/* E - 128 */
	leaq	128(%rsp), %rbx
	/* From here rbx = E. */
	.cfi_escape DW_CFA_def_cfa_expression, 3, DW_OP_breg3, 8, DW_OP_deref
	.cfi_escape DW_CFA_expression, 16, 2, DW_OP_breg3, 0
	.cfi_escape DW_CFA_expression, 3, 2, DW_OP_breg3, 0x68		/* rbx at E-24 */
	.cfi_escape DW_CFA_expression, 6, 2, DW_OP_breg3, 0x40		/* rbp at E-64 */
	/* Two-byte SLEB128 offsets: -104 = 98 7f, -112 = 90 7f, -120 = 88 7f, -128 = 80 7f. */
	.cfi_escape DW_CFA_expression, 12, 3, DW_OP_breg3, 0x98, 0x7f	/* r12 at E-104 */
	.cfi_escape DW_CFA_expression, 13, 3, DW_OP_breg3, 0x90, 0x7f	/* r13 at E-112 */
	.cfi_escape DW_CFA_expression, 14, 3, DW_OP_breg3, 0x88, 0x7f	/* r14 at E-120 */
	.cfi_escape DW_CFA_expression, 15, 3, DW_OP_breg3, 0x80, 0x7f	/* r15 at E-128 */
	cld
	movl	gr_preempt_xsave_size(%rip), %eax
	subq	%rax, %rsp
	andq	$-64, %rsp
	cmpb	$0, gr_preempt_use_xsave(%rip)
	je	1f
	/* The standard-form xsave header (bytes 512..575) must be zero for xrstor. */
	xorl	%eax, %eax
	movq	%rax, 512(%rsp)
	movq	%rax, 520(%rsp)
	movq	%rax, 528(%rsp)
	movq	%rax, 536(%rsp)
	movq	%rax, 544(%rsp)
	movq	%rax, 552(%rsp)
	movq	%rax, 560(%rsp)
	movq	%rax, 568(%rsp)
	movl	$-1, %eax
	movl	$-1, %edx
	xsave64	(%rsp)
	jmp	2f
1:	fxsave64 (%rsp)
2:
	call	gr_preempt_yield

	cmpb	$0, gr_preempt_use_xsave(%rip)
	je	3f
	movl	$-1, %eax
	movl	$-1, %edx
	xrstor64 (%rsp)
	jmp	4f
3:	fxrstor64 (%rsp)
4:
	movq	0(%rbx), %rax
	movq	%rax, %fs:GR_TCB_PREEMPT_PC
	leaq	-128(%rbx), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	popfq
	/* rsp = E: back to the interrupted stack pointer; mov leaves the flags alone. */
	movq	8(%rsp), %rsp
	jmpq	*%fs:GR_TCB_PREEMPT_PC
	.cfi_endproc
	.size	gr_preempt_stub, .-gr_preempt_stub

	.section .note.GNU-stack,"",@progbits

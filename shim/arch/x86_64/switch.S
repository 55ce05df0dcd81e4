/*
 * Context switch between Gs (and between a G and its M's scheduler context, g0).
 *
 * Register contract (System V x86-64):
 *   gr_ctx_switch(struct gr_ctx *from, const struct gr_ctx *to)
 *     rdi = from: receives the stack pointer at which the callee-saved state was pushed.
 *     rsi = to:   { sp, fs } of the context to resume.
 *   The callee-saved registers rbx, rbp, r12-r15, the MXCSR and the x87 control word are
 *   saved on the old stack and restored from the new one; caller-saved registers are dead
 *   across the call, as for any function call.  The thread pointer (fs base) is switched
 *   to to->fs, with wrfsbase when the kernel enables FSGSBASE, else arch_prctl.  No
 *   signal-mask system call is made (this is why swapcontext is not used).
 *
 * A new context is prepared by gr_ctx_init (shim/arch.h) so that the final `ret` lands on
 * gr_ctx_entry with r12 = argument and r13 = function.  gr_ctx_entry marks the return
 * address undefined in its CFI: the unwinder (backtrace, C++ exceptions, libunwind, gdb)
 * treats it as the outermost frame of the G.
 */
	.text

	.globl	gr_ctx_switch
	.hidden	gr_ctx_switch
	.type	gr_ctx_switch, @function
	.p2align 4
gr_ctx_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	pushq	$0
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	(%rsp), %r8		/* the control words we leave: survives the syscall below */
	movq	%rsp, 0(%rdi)

	movq	8(%rsi), %rax
	movq	0(%rsi), %rsp
	cmpb	$0, gr_arch_fsgsbase(%rip)
	je	1f
	wrfsbase %rax
	jmp	2f
1:	/* arch_prctl(ARCH_SET_FS, rax): clobbers rax, rcx, rdx, rsi, rdi, r11 only. */
	movq	%rax, %rsi
	movl	$0x1002, %edi
	movl	$158, %eax
	syscall
2:	/* ldmxcsr and fldcw serialise the pipeline: skip them when nothing changed, which
	 * is nearly always (programs rarely touch rounding modes). */
	cmpq	(%rsp), %r8
	je	3f
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
3:
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	gr_ctx_switch, .-gr_ctx_switch

	.globl	gr_ctx_entry
	.hidden	gr_ctx_entry
	.type	gr_ctx_entry, @function
	.p2align 4
gr_ctx_entry:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.cfi_endproc
	.size	gr_ctx_entry, .-gr_ctx_entry

	/* void gr_arch_set_tp(void *tp) */
	.globl	gr_arch_set_tp
	.hidden	gr_arch_set_tp
	.type	gr_arch_set_tp, @function
	.p2align 4
gr_arch_set_tp:
	.cfi_startproc
	cmpb	$0, gr_arch_fsgsbase(%rip)
	je	1f
	wrfsbase %rdi
	ret
1:	movq	%rdi, %rsi
	movl	$0x1002, %edi
	movl	$158, %eax
	syscall
	ret
	.cfi_endproc
	.size	gr_arch_set_tp, .-gr_arch_set_tp

	.section .note.GNU-stack,"",@progbits

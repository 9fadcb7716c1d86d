/* Context switch for x86_64 (System V ABI).
 *
 * gz__ctx_switch(from, to): push the callee-saved registers rbp rbx r12-r15
 * and an 8-byte slot holding MXCSR (low half) and the x87 control word, save
 * rsp in from->sp, load to->sp, and pop the same set. Everything else is
 * caller-saved, so the C compiler has already spilled what it needs.
 *
 * A fresh context (see ctx.c) is laid out so that the final `ret` lands in
 * gz__ctx_start with r12 = argument and r13 = entry function.
 *
 * Return-stack balance: a `ret` that resumes another context is predicted
 * from the calls of the one that left, and mispredicts, and so does every
 * return after it until the predictor's stack lines up again. So a fresh
 * context is entered with gz__ctx_begin, which ends in a jump and leaves
 * the caller's return address on the predictor's stack, and a greenlet that
 * ends returns from its entry function to gz__ctx_start, which resumes the
 * next context with one `ret`: when that is the greenlet that started it
 * (spawn, then join), every return predicts right.
 */
    .text

/* Push the callee-saved state and swap stacks: from->sp = rsp, rsp = to->sp. */
.macro SAVE_AND_SWAP
    endbr64
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    subq    $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    %rsp, (%rdi)
    movq    (%rsi), %rsp
.endm

/* Pop the state SAVE_AND_SWAP pushed; the return address is left on top. */
.macro RESTORE
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15
    .cfi_adjust_cfa_offset -8
    popq    %r14
    .cfi_adjust_cfa_offset -8
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
.endm

    .globl  gz__ctx_switch
    .hidden gz__ctx_switch
    .type   gz__ctx_switch, @function
    .p2align 4
gz__ctx_switch:
    .cfi_startproc
    SAVE_AND_SWAP
    RESTORE
    ret
    .cfi_endproc
    .size   gz__ctx_switch, .-gz__ctx_switch

/* gz__ctx_begin(from, to): gz__ctx_switch for a TO that has never run. */
    .globl  gz__ctx_begin
    .hidden gz__ctx_begin
    .type   gz__ctx_begin, @function
    .p2align 4
gz__ctx_begin:
    .cfi_startproc
    SAVE_AND_SWAP
    RESTORE
    popq    %rax            /* gz__ctx_start: a jump, not a ret */
    .cfi_adjust_cfa_offset -8
    jmpq    *%rax
    .cfi_endproc
    .size   gz__ctx_begin, .-gz__ctx_begin

/* First frame of every greenlet: the return address is undefined so that
 * debuggers and unwinders stop here. The entry function returns the saved
 * stack pointer of the context to resume once the greenlet has ended (or
 * switches away for good itself): restore it as gz__ctx_switch does. */
    .globl  gz__ctx_start
    .hidden gz__ctx_start
    .type   gz__ctx_start, @function
    .p2align 4
gz__ctx_start:
    .cfi_startproc
    .cfi_undefined rip
    endbr64
    movq    %r12, %rdi
    callq   *%r13
    movq    %rax, %rsp
    RESTORE
    ret
    .cfi_endproc
    .size   gz__ctx_start, .-gz__ctx_start

/* gz__ctx_call_on(top, fn, arg): fn(arg) on the stack that ends at TOP.
 * rbp keeps the caller's stack pointer; the CFA follows it, so unwinders
 * (gdb, the watchdog's backtrace) walk from fn's frames into the caller's. */
    .globl  gz__ctx_call_on
    .hidden gz__ctx_call_on
    .type   gz__ctx_call_on, @function
    .p2align 4
gz__ctx_call_on:
    .cfi_startproc
    endbr64
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    movq    %rsp, %rbp
    .cfi_def_cfa_register rbp
    movq    %rdi, %rsp
    movq    %rdx, %rdi
    callq   *%rsi
    movq    %rbp, %rsp
    .cfi_def_cfa_register rsp
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbp
    ret
    .cfi_endproc
    .size   gz__ctx_call_on, .-gz__ctx_call_on

    .section .note.GNU-stack,"",@progbits

/* Context switch for aarch64 (AAPCS64).
 *
 * gz__ctx_switch(from, to): store the callee-saved x19-x30 (x29 frame
 * pointer, x30 link register), the low halves d8-d15 and FPCR in a 176-byte
 * frame, save sp in from->sp, load to->sp and restore the same set; `ret`
 * jumps to the restored x30.
 *
 * A fresh context (see ctx.c) has x30 = gz__ctx_start, x19 = argument and
 * x20 = entry function.
 */
    .text
    .globl  gz__ctx_switch
    .hidden gz__ctx_switch
    .type   gz__ctx_switch, %function
    .p2align 4
gz__ctx_switch:
    .cfi_startproc
    sub     sp, sp, #176
    .cfi_adjust_cfa_offset 176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8,  d9,  [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x9, fpcr
    str     x9, [sp, #160]
    mov     x9, sp
    str     x9, [x0]
    ldr     x9, [x1]
    mov     sp, x9
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8,  d9,  [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldr     x9, [sp, #160]
    msr     fpcr, x9
    add     sp, sp, #176
    .cfi_adjust_cfa_offset -176
    ret
    .cfi_endproc
    .size   gz__ctx_switch, .-gz__ctx_switch

    .globl  gz__ctx_start
    .hidden gz__ctx_start
    .type   gz__ctx_start, %function
    .p2align 4
gz__ctx_start:
    .cfi_startproc
    .cfi_undefined x30
    mov     x29, #0
    mov     x0, x19
    blr     x20
    brk     #0
    .cfi_endproc
    .size   gz__ctx_start, .-gz__ctx_start

/* gz__ctx_call_on(top, fn, arg): fn(arg) on the stack that ends at TOP.
 * x29 keeps the caller's stack pointer; the CFA follows it, so unwinders
 * walk from fn's frames into the caller's. */
    .globl  gz__ctx_call_on
    .hidden gz__ctx_call_on
    .type   gz__ctx_call_on, %function
    .p2align 4
gz__ctx_call_on:
    .cfi_startproc
    stp     x29, x30, [sp, #-16]!
    .cfi_def_cfa_offset 16
    .cfi_offset x29, -16
    .cfi_offset x30, -8
    mov     x29, sp
    .cfi_def_cfa_register x29
    mov     sp, x0
    mov     x0, x2
    blr     x1
    mov     sp, x29
    .cfi_def_cfa_register sp
    ldp     x29, x30, [sp], #16
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
    .size   gz__ctx_call_on, .-gz__ctx_call_on

    .section .note.GNU-stack,"",%progbits

//go:build amd64 && !purego

#include "textflag.h"

// MOMENTUM is one 8-lane step of the momentum SGD update with the decayed
// gradient d already in Y0: d *= scale, b = fma(damp, d, b*m),
// p = fma(lr, b, p); p in Y2 and its address in DI, b's in DX.
#define MOMENTUM \
	VMULPS      Y11, Y0, Y0 \
	VMOVUPS     (DX), Y1    \
	VMULPS      Y12, Y1, Y1 \
	VFMADD231PS Y0, Y13, Y1 \
	VFMADD231PS Y1, Y14, Y2 \
	VMOVUPS     Y1, (DX)    \
	VMOVUPS     Y2, (DI)

// FIRST is MOMENTUM at a parameter's first step: b = d, p = fma(lr, d, p).
#define FIRST \
	VMULPS      Y11, Y0, Y0 \
	VFMADD231PS Y0, Y14, Y2 \
	VMOVUPS     Y0, (DX)    \
	VMOVUPS     Y2, (DI)

// func sgdMomentumAVX2(n int, p, grad, b *float32, wd, scale, m, damp, lr float32, first bool)
//
// For i < n (a positive multiple of 8): d = fma(wd, p, g) (d = g when wd
// is 0), d *= scale, b = fma(damp, d, b*m) (b = d when first),
// p = fma(lr, b, p), every operation rounded once to float32.
TEXT ·sgdMomentumAVX2(SB), NOSPLIT, $0-53
	MOVQ         n+0(FP), CX
	MOVQ         p+8(FP), DI
	MOVQ         grad+16(FP), SI
	MOVQ         b+24(FP), DX
	VBROADCASTSS wd+32(FP), Y10
	VBROADCASTSS scale+36(FP), Y11
	VBROADCASTSS m+40(FP), Y12
	VBROADCASTSS damp+44(FP), Y13
	VBROADCASTSS lr+48(FP), Y14
	SHRQ         $3, CX
	MOVBLZX      first+52(FP), BX
	TESTL        BX, BX
	JNE          firstloop
	MOVL         wd+32(FP), AX
	TESTL        $0x7fffffff, AX
	JE           nowd

wdloop:
	VMOVUPS     (SI), Y0
	VMOVUPS     (DI), Y2
	VFMADD231PS Y2, Y10, Y0
	MOMENTUM
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	DECQ        CX
	JNE         wdloop
	VZEROUPPER
	RET

nowd:
	VMOVUPS (SI), Y0
	VMOVUPS (DI), Y2
	MOMENTUM
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	DECQ    CX
	JNE     nowd
	VZEROUPPER
	RET

firstloop:
	MOVL  wd+32(FP), AX
	TESTL $0x7fffffff, AX
	JE    firstnowd

firstwd:
	VMOVUPS     (SI), Y0
	VMOVUPS     (DI), Y2
	VFMADD231PS Y2, Y10, Y0
	FIRST
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	DECQ        CX
	JNE         firstwd
	VZEROUPPER
	RET

firstnowd:
	VMOVUPS (SI), Y0
	VMOVUPS (DI), Y2
	FIRST
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	DECQ    CX
	JNE     firstnowd
	VZEROUPPER
	RET

// func emaAVX2(n int, t, o *float32, a, b float32)
//
// t[i] = t[i]*a + o[i]*b for i < n (a positive multiple of 8), each
// product rounded to float32 before the sum.
TEXT ·emaAVX2(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         t+8(FP), DI
	MOVQ         o+16(FP), SI
	VBROADCASTSS a+24(FP), Y10
	VBROADCASTSS b+28(FP), Y11
	SHRQ         $3, CX

emaloop:
	VMULPS  (DI), Y10, Y0
	VMULPS  (SI), Y11, Y1
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNE     emaloop
	VZEROUPPER
	RET

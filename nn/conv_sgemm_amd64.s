//go:build amd64 && !purego

#include "textflag.h"

// func sgemmKernel4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc bool)
//
// C[4][16] (row stride ldc) = (acc ? C : 0) + A·B over k steps, where step
// p reads the four elements of A's column p at a[p*lda:] and the 16 of
// B's row p at b[p*ldb:]. AVX2 and FMA: eight accumulators of 8 floats.
TEXT ·sgemmKernel4x16(SB), NOSPLIT, $0-57
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R13
	SHLQ $2, R13
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R8
	SHLQ $2, R8
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R9
	SHLQ $2, R9

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ  CX, CX
	JE     done

loop:
	VMOVUPS      (DI), Y8
	VMOVUPS      32(DI), Y9
	VBROADCASTSS (SI), Y10
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VBROADCASTSS 4(SI), Y11
	VFMADD231PS  Y8, Y11, Y2
	VFMADD231PS  Y9, Y11, Y3
	VBROADCASTSS 8(SI), Y12
	VFMADD231PS  Y8, Y12, Y4
	VFMADD231PS  Y9, Y12, Y5
	VBROADCASTSS 12(SI), Y13
	VFMADD231PS  Y8, Y13, Y6
	VFMADD231PS  Y9, Y13, Y7
	ADDQ         R13, SI
	ADDQ         R8, DI
	DECQ         CX
	JNE          loop

done:
	LEAQ    (DX)(R9*1), R10
	LEAQ    (R10)(R9*1), R11
	LEAQ    (R11)(R9*1), R12
	MOVBLZX acc+56(FP), AX
	TESTL   AX, AX
	JE      store
	VADDPS  (DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1
	VADDPS  (R10), Y2, Y2
	VADDPS  32(R10), Y3, Y3
	VADDPS  (R11), Y4, Y4
	VADDPS  32(R11), Y5, Y5
	VADDPS  (R12), Y6, Y6
	VADDPS  32(R12), Y7, Y7

store:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, (R10)
	VMOVUPS Y3, 32(R10)
	VMOVUPS Y4, (R11)
	VMOVUPS Y5, 32(R11)
	VMOVUPS Y6, (R12)
	VMOVUPS Y7, 32(R12)
	VZEROUPPER
	RET

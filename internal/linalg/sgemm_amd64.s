//go:build amd64 && !purego

#include "textflag.h"

// One step p of the 6x16 micro-kernel: B's packed row p (16 floats at
// DI+bo) times A's packed column p (6 floats at SI+ao), added to the twelve
// accumulators Y4..Y15 (row r in Y(4+2r), Y(5+2r)).
#define STEP(ao, bo) \
	VMOVUPS      bo(DI), Y0        \
	VMOVUPS      bo+32(DI), Y1     \
	VBROADCASTSS ao(SI), Y2        \
	VBROADCASTSS ao+4(SI), Y3      \
	VFMADD231PS  Y0, Y2, Y4        \
	VFMADD231PS  Y1, Y2, Y5        \
	VFMADD231PS  Y0, Y3, Y6        \
	VFMADD231PS  Y1, Y3, Y7        \
	VBROADCASTSS ao+8(SI), Y2      \
	VBROADCASTSS ao+12(SI), Y3     \
	VFMADD231PS  Y0, Y2, Y8        \
	VFMADD231PS  Y1, Y2, Y9        \
	VFMADD231PS  Y0, Y3, Y10       \
	VFMADD231PS  Y1, Y3, Y11       \
	VBROADCASTSS ao+16(SI), Y2     \
	VBROADCASTSS ao+20(SI), Y3     \
	VFMADD231PS  Y0, Y2, Y12       \
	VFMADD231PS  Y1, Y2, Y13       \
	VFMADD231PS  Y0, Y3, Y14       \
	VFMADD231PS  Y1, Y3, Y15

// func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha float32, add bool)
//
// C[6][16] (row stride ldc) = alpha·(A·B) + (add ? C : 0) over k steps, A
// packed as six floats per step, B as 16. Each of the 96 sums runs over p
// in order in one FMA accumulator starting from zero, and is added to C
// with one more FMA (or multiplied by alpha), so the result depends on
// k's blocking only.
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-45
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R9
	SHLQ $2, R9

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, BX
	SHRQ $2, BX
	JE   tail

loop4:
	PREFETCHT0 384(SI)
	STEP(0, 0)
	STEP(24, 64)
	PREFETCHT0 512(DI)
	STEP(48, 128)
	STEP(72, 192)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNE  loop4

tail:
	ANDQ $3, CX
	JE   store

loop1:
	STEP(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNE  loop1

store:
	VBROADCASTSS alpha+40(FP), Y0
	LEAQ         (DX)(R9*1), R10
	LEAQ         (R10)(R9*1), R11
	LEAQ         (R11)(R9*1), R12
	MOVBLZX      add+44(FP), AX
	TESTL        AX, AX
	JE           overwrite
	VFMADD213PS  (DX), Y0, Y4
	VFMADD213PS  32(DX), Y0, Y5
	VFMADD213PS  (R10), Y0, Y6
	VFMADD213PS  32(R10), Y0, Y7
	VFMADD213PS  (R11), Y0, Y8
	VFMADD213PS  32(R11), Y0, Y9
	VMOVUPS      Y4, (DX)
	VMOVUPS      Y5, 32(DX)
	VMOVUPS      Y6, (R10)
	VMOVUPS      Y7, 32(R10)
	VMOVUPS      Y8, (R11)
	VMOVUPS      Y9, 32(R11)
	LEAQ         (R12)(R9*1), R10
	LEAQ         (R10)(R9*1), R11
	VFMADD213PS  (R12), Y0, Y10
	VFMADD213PS  32(R12), Y0, Y11
	VFMADD213PS  (R10), Y0, Y12
	VFMADD213PS  32(R10), Y0, Y13
	VFMADD213PS  (R11), Y0, Y14
	VFMADD213PS  32(R11), Y0, Y15
	VMOVUPS      Y10, (R12)
	VMOVUPS      Y11, 32(R12)
	VMOVUPS      Y12, (R10)
	VMOVUPS      Y13, 32(R10)
	VMOVUPS      Y14, (R11)
	VMOVUPS      Y15, 32(R11)
	VZEROUPPER
	RET

overwrite:
	VMULPS  Y0, Y4, Y4
	VMULPS  Y0, Y5, Y5
	VMULPS  Y0, Y6, Y6
	VMULPS  Y0, Y7, Y7
	VMULPS  Y0, Y8, Y8
	VMULPS  Y0, Y9, Y9
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	VMOVUPS Y6, (R10)
	VMOVUPS Y7, 32(R10)
	VMOVUPS Y8, (R11)
	VMOVUPS Y9, 32(R11)
	LEAQ    (R12)(R9*1), R10
	LEAQ    (R10)(R9*1), R11
	VMULPS  Y0, Y10, Y10
	VMULPS  Y0, Y11, Y11
	VMULPS  Y0, Y12, Y12
	VMULPS  Y0, Y13, Y13
	VMULPS  Y0, Y14, Y14
	VMULPS  Y0, Y15, Y15
	VMOVUPS Y10, (R12)
	VMOVUPS Y11, 32(R12)
	VMOVUPS Y12, (R10)
	VMOVUPS Y13, 32(R10)
	VMOVUPS Y14, (R11)
	VMOVUPS Y15, 32(R11)
	VZEROUPPER
	RET

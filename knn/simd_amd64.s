//go:build amd64 && !purego

#include "textflag.h"

// func dotLanesAVX2(a, b *float32, n int, l *[16]float64)
// Lane j of Y0..Y3 (lanes 0-3, 4-7, 8-11, 12-15) accumulates the products
// of elements i with i%16 == j: four independent FMA chains.
TEXT ·dotLanesAVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ l+24(FP), DX
	VMOVUPD 0(DX), Y0
	VMOVUPD 32(DX), Y1
	VMOVUPD 64(DX), Y2
	VMOVUPD 96(DX), Y3

loop:
	VCVTPS2PD 0(SI), Y4
	VCVTPS2PD 0(DI), Y5
	VFMADD231PD Y5, Y4, Y0
	VCVTPS2PD 16(SI), Y6
	VCVTPS2PD 16(DI), Y7
	VFMADD231PD Y7, Y6, Y1
	VCVTPS2PD 32(SI), Y8
	VCVTPS2PD 32(DI), Y9
	VFMADD231PD Y9, Y8, Y2
	VCVTPS2PD 48(SI), Y10
	VCVTPS2PD 48(DI), Y11
	VFMADD231PD Y11, Y10, Y3
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ  loop

	VMOVUPD Y0, 0(DX)
	VMOVUPD Y1, 32(DX)
	VMOVUPD Y2, 64(DX)
	VMOVUPD Y3, 96(DX)
	VZEROUPPER
	RET

// func scanGTAVX2(s *float32, n int, t float32) int
TEXT ·scanGTAVX2(SB), NOSPLIT, $0-32
	MOVQ s+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS t+16(FP), Y1
	XORQ AX, AX

loop:
	VMOVUPS (SI)(AX*4), Y0
	VCMPPS $0x1e, Y1, Y0, Y2 // Y0 > Y1, ordered, quiet
	VMOVMSKPS Y2, BX
	TESTL BX, BX
	JNZ   found
	ADDQ $8, AX
	CMPQ AX, CX
	JLT  loop
	JMP  done

found:
	BSFL BX, BX
	ADDQ BX, AX

done:
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET

//go:build amd64 && !purego

#include "textflag.h"

// TRANSPOSE8 transposes the 8x8 block of floats in Y0..Y7 (row i in Yi)
// into Y8..Y15 in the order of its columns: column q ends up in
// Y8, Y9, Y10, Y11 for q = 0..3 and Y12..Y15 for q = 4..7.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8          \
	VUNPCKHPS  Y1, Y0, Y9          \
	VUNPCKLPS  Y3, Y2, Y10         \
	VUNPCKHPS  Y3, Y2, Y11         \
	VUNPCKLPS  Y5, Y4, Y12         \
	VUNPCKHPS  Y5, Y4, Y13         \
	VUNPCKLPS  Y7, Y6, Y14         \
	VUNPCKHPS  Y7, Y6, Y15         \
	VSHUFPS    $0x44, Y10, Y8, Y0  \
	VSHUFPS    $0xEE, Y10, Y8, Y1  \
	VSHUFPS    $0x44, Y11, Y9, Y2  \
	VSHUFPS    $0xEE, Y11, Y9, Y3  \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xEE, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8   \
	VPERM2F128 $0x20, Y5, Y1, Y9   \
	VPERM2F128 $0x20, Y6, Y2, Y10  \
	VPERM2F128 $0x20, Y7, Y3, Y11  \
	VPERM2F128 $0x31, Y4, Y0, Y12  \
	VPERM2F128 $0x31, Y5, Y1, Y13  \
	VPERM2F128 $0x31, Y6, Y2, Y14  \
	VPERM2F128 $0x31, Y7, Y3, Y15

// LOAD8 loads eight floats from each of the rows at R, R+ld, ..., R+7ld
// (ld in BX, 3ld in CX, R4 = R+4ld) into Y0..Y7.
#define LOAD8(R, R4) \
	VMOVUPS (R), Y0         \
	VMOVUPS (R)(BX*1), Y1   \
	VMOVUPS (R)(BX*2), Y2   \
	VMOVUPS (R)(CX*1), Y3   \
	VMOVUPS (R4), Y4        \
	VMOVUPS (R4)(BX*1), Y5  \
	VMOVUPS (R4)(BX*2), Y6  \
	VMOVUPS (R4)(CX*1), Y7

// func packB16N(kc int, src *float32, ld int, dst *float32)
//
// dst[16p+j] = src[p*ld+j] for p < kc, j < 16.
TEXT ·packB16N(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), BX
	SHLQ $2, BX
	MOVQ dst+24(FP), DI
	TESTQ CX, CX
	JE   bndone

bnloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    BX, SI
	ADDQ    $64, DI
	DECQ    CX
	JNE     bnloop

bndone:
	VZEROUPPER
	RET

// func packB16T(kc8 int, src *float32, ld int, dst *float32)
//
// dst[16p+j] = src[j*ld+p] for p < 8*kc8, j < 16: eight steps at a time,
// as two 8x8 transposes.
TEXT ·packB16T(SB), NOSPLIT, $0-32
	MOVQ kc8+0(FP), AX
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), CX
	MOVQ dst+24(FP), DI
	LEAQ (SI)(BX*4), DX
	LEAQ (DX)(BX*4), R8
	LEAQ (R8)(BX*4), R9
	TESTQ AX, AX
	JE   btdone

btloop:
	LOAD8(SI, DX)
	TRANSPOSE8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 64(DI)
	VMOVUPS Y10, 128(DI)
	VMOVUPS Y11, 192(DI)
	VMOVUPS Y12, 256(DI)
	VMOVUPS Y13, 320(DI)
	VMOVUPS Y14, 384(DI)
	VMOVUPS Y15, 448(DI)
	LOAD8(R8, R9)
	TRANSPOSE8
	VMOVUPS Y8, 32(DI)
	VMOVUPS Y9, 96(DI)
	VMOVUPS Y10, 160(DI)
	VMOVUPS Y11, 224(DI)
	VMOVUPS Y12, 288(DI)
	VMOVUPS Y13, 352(DI)
	VMOVUPS Y14, 416(DI)
	VMOVUPS Y15, 480(DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, R8
	ADDQ    $32, R9
	ADDQ    $512, DI
	DECQ    AX
	JNE     btloop

btdone:
	VZEROUPPER
	RET

// STORE6(Y, off) stores the low six floats of Y at off(DI).
#define STORE6(Y, X, off) \
	VMOVUPS      X, off(DI)      \
	VEXTRACTF128 $1, Y, X0       \
	VMOVLPS      X0, off+16(DI)

// func packA6N(kc8 int, src *float32, ld int, dst *float32)
//
// dst[6p+r] = src[r*ld+p] for p < 8*kc8, r < 6: eight steps at a time, as
// one 8x8 transpose of which two rows are unused.
TEXT ·packA6N(SB), NOSPLIT, $0-32
	MOVQ kc8+0(FP), AX
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), CX
	MOVQ dst+24(FP), DI
	LEAQ (SI)(BX*4), DX
	TESTQ AX, AX
	JE   andone

anloop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(BX*1), Y1
	VMOVUPS (SI)(BX*2), Y2
	VMOVUPS (SI)(CX*1), Y3
	VMOVUPS (DX), Y4
	VMOVUPS (DX)(BX*1), Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	TRANSPOSE8
	STORE6(Y8, X8, 0)
	STORE6(Y9, X9, 24)
	STORE6(Y10, X10, 48)
	STORE6(Y11, X11, 72)
	STORE6(Y12, X12, 96)
	STORE6(Y13, X13, 120)
	STORE6(Y14, X14, 144)
	STORE6(Y15, X15, 168)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $192, DI
	DECQ    AX
	JNE     anloop

andone:
	VZEROUPPER
	RET

// func packA6T(kc int, src *float32, ld int, dst *float32)
//
// dst[6p+r] = src[p*ld+r] for p < kc, r < 6.
TEXT ·packA6T(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), BX
	SHLQ $2, BX
	MOVQ dst+24(FP), DI
	TESTQ CX, CX
	JE   atdone

atloop:
	VMOVUPS (SI), X0
	MOVQ    16(SI), AX
	VMOVUPS X0, (DI)
	MOVQ    AX, 16(DI)
	ADDQ    BX, SI
	ADDQ    $24, DI
	DECQ    CX
	JNE     atloop

atdone:
	VZEROUPPER
	RET

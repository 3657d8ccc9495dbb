//go:build amd64 && !purego

#include "textflag.h"

// The constants of exp32 (sigmoid32.go), as float32 bit patterns.
DATA expc<>+0(SB)/4, $0x3f800000  // 1
DATA expc<>+4(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expc<>+8(SB)/4, $0x3f000000  // 0.5
DATA expc<>+12(SB)/4, $0x42b175c3 // exp32Hi = 88.73
DATA expc<>+16(SB)/4, $0xc2ad3333 // exp32Lo = -86.6
DATA expc<>+20(SB)/4, $0x3f318000 // C1
DATA expc<>+24(SB)/4, $0xb95e8083 // C2
DATA expc<>+28(SB)/4, $0x39506967 // P5
DATA expc<>+32(SB)/4, $0x3ab743ce // P4
DATA expc<>+36(SB)/4, $0x3c088908 // P3
DATA expc<>+40(SB)/4, $0x3d2aa9c1 // P2
DATA expc<>+44(SB)/4, $0x3e2aaaaa // P1
DATA expc<>+48(SB)/4, $0x3f000000 // P0
DATA expc<>+52(SB)/4, $126        // exponent bias - 1
DATA expc<>+56(SB)/4, $0x80000000 // sign bit
GLOBL expc<>(SB), RODATA|NOPTR, $60

// EXP32 sets Y0 = exp32(Y0), with exp32's operations in its order;
// clobbers Y1..Y5.
#define EXP32 \
	VBROADCASTSS expc<>+12(SB), Y1 \
	VMINPS       Y0, Y1, Y0        \
	VBROADCASTSS expc<>+16(SB), Y1 \
	VMAXPS       Y0, Y1, Y0        \
	VBROADCASTSS expc<>+4(SB), Y1  \
	VMULPS       Y1, Y0, Y1        \
	VBROADCASTSS expc<>+8(SB), Y2  \
	VADDPS       Y2, Y1, Y1        \
	VROUNDPS     $9, Y1, Y1        \
	VBROADCASTSS expc<>+20(SB), Y2 \
	VMULPS       Y1, Y2, Y2        \
	VSUBPS       Y2, Y0, Y0        \
	VBROADCASTSS expc<>+24(SB), Y2 \
	VMULPS       Y1, Y2, Y2        \
	VSUBPS       Y2, Y0, Y0        \
	VMULPS       Y0, Y0, Y3        \
	VBROADCASTSS expc<>+28(SB), Y4 \
	VMULPS       Y0, Y4, Y4        \
	VBROADCASTSS expc<>+32(SB), Y2 \
	VADDPS       Y2, Y4, Y4        \
	VMULPS       Y0, Y4, Y4        \
	VBROADCASTSS expc<>+36(SB), Y2 \
	VADDPS       Y2, Y4, Y4        \
	VMULPS       Y0, Y4, Y4        \
	VBROADCASTSS expc<>+40(SB), Y2 \
	VADDPS       Y2, Y4, Y4        \
	VMULPS       Y0, Y4, Y4        \
	VBROADCASTSS expc<>+44(SB), Y2 \
	VADDPS       Y2, Y4, Y4        \
	VMULPS       Y0, Y4, Y4        \
	VBROADCASTSS expc<>+48(SB), Y2 \
	VADDPS       Y2, Y4, Y4        \
	VMULPS       Y3, Y4, Y4        \
	VADDPS       Y0, Y4, Y4        \
	VBROADCASTSS expc<>+0(SB), Y2  \
	VADDPS       Y2, Y4, Y4        \
	VCVTTPS2DQ   Y1, Y1            \
	VPBROADCASTD expc<>+52(SB), Y2 \
	VPADDD       Y2, Y1, Y1        \
	VPSLLD       $23, Y1, Y1       \
	VADDPS       Y4, Y4, Y4        \
	VMULPS       Y1, Y4, Y0

// SIGMOID sets Y0 = 1/(1+exp32(-Y6)); Y7 holds 1 and Y8 the sign bit.
#define SIGMOID \
	VXORPS Y8, Y6, Y0 \
	EXP32             \
	VADDPS Y7, Y0, Y0 \
	VDIVPS Y0, Y7, Y0

// SILU sets Y0 = Y6/(1+exp32(-Y6)).
#define SILU \
	VXORPS Y8, Y6, Y0 \
	EXP32             \
	VADDPS Y7, Y0, Y0 \
	VDIVPS Y0, Y6, Y0

// func sigmoidAVX2(y, x *float32, n int, silu bool)
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-25
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVBLZX      silu+24(FP), AX
	SHRQ         $3, CX
	VBROADCASTSS expc<>+0(SB), Y7
	VBROADCASTSS expc<>+56(SB), Y8

	TESTL        AX, AX
	JNE          siluloop

sigloop:
	VMOVUPS (SI), Y6
	SIGMOID
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNE     sigloop
	VZEROUPPER
	RET

siluloop:
	VMOVUPS (SI), Y6
	SILU
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNE     siluloop
	VZEROUPPER
	RET

// func siluGradAVX2(dx, x, dy *float32, n int)
TEXT ·siluGradAVX2(SB), NOSPLIT, $0-32
	MOVQ         dx+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         dy+16(FP), DX
	MOVQ         n+24(FP), CX
	SHRQ         $3, CX
	VBROADCASTSS expc<>+0(SB), Y7
	VBROADCASTSS expc<>+56(SB), Y8

sgloop:
	VMOVUPS (SI), Y6
	SIGMOID
	VSUBPS  Y0, Y7, Y1  // 1 - s
	VMULPS  Y1, Y6, Y1  // x(1-s)
	VADDPS  Y7, Y1, Y1  // 1 + x(1-s)
	VMULPS  (DX), Y0, Y0 // dy s
	VMULPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNE     sgloop
	VZEROUPPER
	RET

#include "textflag.h"

// func prefetchSlots(slots *Entry, homes *int32, n int)
TEXT ·prefetchSlots(SB), NOSPLIT, $0-24
	MOVQ slots+0(FP), AX
	MOVQ homes+8(FP), BX
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JLE done
loop:
	MOVLQSX (BX), DX
	SHLQ $5, DX // × 32, the size of an Entry
	PREFETCHT0 (AX)(DX*1)
	ADDQ $4, BX
	DECQ CX
	JNZ loop
done:
	RET

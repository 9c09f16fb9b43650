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

// func prefetchWindows(slots *Entry, homes *int32, n int, mask uint64)
TEXT ·prefetchWindows(SB), NOSPLIT, $0-32
	MOVQ slots+0(FP), AX
	MOVQ homes+8(FP), BX
	MOVQ n+16(FP), CX
	MOVQ mask+24(FP), R8
	TESTQ CX, CX
	JLE wdone
wloop:
	MOVLQSX (BX), DX
	MOVQ $17, R9 // lines: evictionWindow × 2 entries from an odd home span 17
wline:
	MOVQ DX, R10
	ANDQ R8, R10
	SHLQ $5, R10 // × 32, the size of an Entry
	PREFETCHT0 (AX)(R10*1)
	ADDQ $2, DX
	DECQ R9
	JNZ wline
	ADDQ $4, BX
	DECQ CX
	JNZ wloop
wdone:
	RET

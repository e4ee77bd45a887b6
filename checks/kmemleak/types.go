// Package kmemleak parses the kernel's kmemleak report in every format since
// 2.6.3x, blames a culprit frame and groups objects by a stable signature.
package kmemleak

// Frame is one backtrace line, normalised: no address.
type Frame struct {
	Function string `json:"function"`
	// Offset is "+0x36/0x120" style text as printed, without the function.
	Offset string `json:"offset,omitempty"`
	Module string `json:"module,omitempty"`
	// Raw is true for a bare address the kernel could not symbolise.
	Raw bool `json:"raw,omitempty"`
	// Inline marks a symbolizer's frame for code inlined into the next
	// frame (syzbot's and decode_stacktrace.sh's " [inline]"): it has no
	// return address of its own, and the raw report the target prints
	// does not show it.
	Inline bool `json:"inline,omitempty"`
	// OffsetBytes and LengthBytes are Offset's two numbers: the return
	// address's distance into the function and the function's length.
	OffsetBytes int64 `json:"offset_bytes,omitempty"`
	LengthBytes int64 `json:"length_bytes,omitempty"`
}

// Object is one "unreferenced object" block.
type Object struct {
	Address   string  `json:"address"`
	SizeBytes int64   `json:"size"`
	Comm      string  `json:"comm"`
	PID       int     `json:"pid"`
	Jiffies   uint64  `json:"jiffies"`
	AgeSec    float64 `json:"age_seconds,omitempty"`
	HasAge    bool    `json:"-"`
	// Area is "" for ordinary objects, "percpu" or "phys" for linux-next's variants.
	Area    string   `json:"area,omitempty"`
	HexDump []string `json:"hex_dump,omitempty"`
	CRC     string   `json:"crc,omitempty"`
	Frames  []Frame  `json:"frames"`
	Culprit *Frame   `json:"culprit,omitempty"`
	// Truncated marks a last block cut short by the end of input.
	Truncated bool `json:"truncated,omitempty"`
	// Signature is the key of the object's group (see SignatureOf).
	Signature string `json:"signature,omitempty"`
	// stack identifies the exact frame texts within one Scanner (0: unknown),
	// so a Grouper blames and signs each distinct stack once.
	stack uint64
	src   *Scanner // whose symbol ids stack counts in
	// lazy holds a lean Scanner's frames until a Grouper needs them.
	lazy []*parsedFrame
}

// Group is every object of one report sharing a signature.
type Group struct {
	Signature string  `json:"signature"`
	Culprit   *Frame  `json:"culprit,omitempty"`
	Count     int     `json:"count"`
	Bytes     int64   `json:"bytes"`
	Frames    []Frame `json:"frames"`
	// SizesBytes lists the distinct object sizes seen, ascending.
	SizesBytes []int64 `json:"sizes"`
	// Digest is the signature's leading hex digest alone, for compact keys.
	Digest string `json:"digest"`
}

package human

import (
	"math"
	"testing"
	"time"
)

func TestBytes_Boundaries(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want string
	}{
		{"zero is 0 B", 0, "0 B"},
		{"negative zero is 0 B", math.Copysign(0, -1), "0 B"},
		{"a fraction below half a byte is 0 B", -0.4, "0 B"},
		{"1023 B stays in bytes", 1023, "1023 B"},
		{"1023.6 B rounds up to 1 KiB, not 1024 B", 1023.6, "1.0 KiB"},
		{"1 KiB", 1024, "1.0 KiB"},
		{"1.5 KiB", 1536, "1.5 KiB"},
		{"1 B short of 1 MiB is 1.0 MiB, not 1024.0 KiB", 1<<20 - 1, "1.0 MiB"},
		{"1.5 MiB", 1.5 * (1 << 20), "1.5 MiB"},
		{"a negative size keeps its sign", -1.5 * (1 << 20), "-1.5 MiB"},
		{"-1023 B", -1023, "-1023 B"},
		{"1 GiB", 1 << 30, "1.0 GiB"},
		{"1 TiB", 1 << 40, "1.0 TiB"},
		{"1 EiB", 1 << 60, "1.0 EiB"},
		{"8 EiB (an int64's limit)", math.MaxInt64, "8.0 EiB"},
		{"beyond a million EiB switches to exponent form", 1e30, "8.67e+11 EiB"},
		{"NaN is n/a", math.NaN(), "n/a"},
		{"+Inf is n/a", math.Inf(1), "n/a"},
		{"-Inf is n/a", math.Inf(-1), "n/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Bytes(tt.in); got != tt.want {
				t.Errorf("Bytes(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestBytesFine_ThreeSignificantDigits(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1000, "1000 B"}, {1024, "1 KiB"}, {147.4 * 1024, "147 KiB"}, {1.966 * (1 << 20), "1.97 MiB"},
		{1.955 * (1 << 20), "1.96 MiB"}, {15.26 * (1 << 30), "15.3 GiB"}, {-2.5 * 1024, "-2.5 KiB"}, {1000 * 1024, "1000 KiB"}, {math.NaN(), "n/a"},
	}
	for _, tt := range tests {
		if got := BytesFine(tt.in); got != tt.want {
			t.Errorf("BytesFine(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSignedBytesAndRates(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"growth gets a plus", SignedBytes(1.5 * (1 << 20)), "+1.5 MiB"},
		{"no growth is +0 B", SignedBytes(0), "+0 B"},
		{"shrinking keeps its minus", SignedBytes(-512), "-512 B"},
		{"NaN has no sign", SignedBytes(math.NaN()), "n/a"},
		{"a byte rate is per hour", BytesPerHour(2.071e6), "2.0 MiB/h"},
		{"a signed byte rate", SignedBytesPerHour(16 * 1024), "+16.0 KiB/h"},
		{"a kB series' amount is KiB", Amount(432, "kB"), "+432.0 KiB"},
		{"a pages series' amount is 4 KiB a page", Amount(256, "pages"), "+1.0 MiB"},
		{"an objects series' amount is a count", Amount(262, "objects"), "+262 objects"},
		{"a count unit from the target is escaped", Amount(1, "obj\x1b[2J"), `+1 obj\x1b[2J`},
		{"a bytes series' rate", Rate(2.071e6, "bytes"), "+2.0 MiB/h"},
		{"a count rate", Rate(3580.8, "objects"), "+3580.8/h"},
		{"a falling count rate", Rate(-0.25, ""), "-0.25/h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {262, "262"}, {-7, "-7"}, {3580.75, "3580.8"}, {20.24, "20.2"}, {0.25, "0.25"},
		{1e18, "1e+18"}, {math.NaN(), "n/a"}, {math.Inf(-1), "n/a"},
	}
	for _, tt := range tests {
		if got := Count(tt.in); got != tt.want {
			t.Errorf("Count(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDuration_TwoUnitsAtMost(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"zero", 0, "0 ms"},
		{"milliseconds", 350 * time.Millisecond, "350 ms"},
		{"seconds", 45 * time.Second, "45 s"},
		{"59.4 s rounds to 59 s", 59*time.Second + 400*time.Millisecond, "59 s"},
		{"minutes and seconds under ten minutes", 2*time.Minute + 30*time.Second, "2 min 30 s"},
		{"whole minutes", 3 * time.Minute, "3 min"},
		{"minutes only from ten minutes", 35*time.Minute + 20*time.Second, "35 min"},
		{"59 min 50 s is 1 h", 59*time.Minute + 50*time.Second, "1 h"},
		{"hours and minutes", 80 * time.Minute, "1 h 20 min"},
		{"a 12 h soak", 12 * time.Hour, "12 h"},
		{"23 h 59 min 50 s is 1 d", 24*time.Hour - 10*time.Second, "1 d"},
		{"days and hours", 76 * time.Hour, "3 d 4 h"},
		{"negative", -90 * time.Second, "-1 min 30 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Duration(tt.in); got != tt.want {
				t.Errorf("Duration(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestApprox(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{40 * time.Minute, "~40 min"}, {41 * time.Hour, "~41 h"}, {221 * time.Hour, "~9.2 d"},
		{400 * 24 * time.Hour, "more than a year"},
	}
	for _, tt := range tests {
		if got := Approx(tt.in); got != tt.want {
			t.Errorf("Approx(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

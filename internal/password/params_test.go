package password

import (
	"errors"
	"testing"
)

func TestParamsValidate(t *testing.T) {
	owasp := func(m, t uint32) Params {
		return Params{MemoryKiB: m, Iterations: t, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	}
	cheap := CheapParamsForTests()
	cheapShortSalt := cheap
	cheapShortSalt.SaltLen = 8
	cheapHuge := cheap
	cheapHuge.MemoryKiB = maxMemoryKiB + 1
	tests := []struct {
		name string
		p    Params
		ok   bool
	}{
		{"default", DefaultParams(), true},
		{"OWASP m=46MiB t=1", owasp(47104, 1), true},
		{"OWASP m=19MiB t=2", owasp(19456, 2), true},
		{"OWASP m=12MiB t=3", owasp(12288, 3), true},
		{"OWASP m=9MiB t=4", owasp(9216, 4), true},
		{"OWASP m=7MiB t=5", owasp(7168, 5), true},
		{"64 MiB t=3 p=4", Params{MemoryKiB: 65536, Iterations: 3, Parallelism: 4, SaltLen: 32, KeyLen: 64}, true},
		{"4 GiB t=1", owasp(4<<20, 1), true},
		{"test params", cheap, true},

		{"zero", Params{}, false},
		{"19 MiB t=1", owasp(19456, 1), false},
		{"6 MiB t=10", owasp(6144, 10), false},
		{"8 MiB t=4", owasp(8192, 4), false},
		{"test params copied without the mark", Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, false},
		{"zero lanes", Params{MemoryKiB: 19456, Iterations: 2, SaltLen: 16, KeyLen: 32}, false},
		{"17 lanes", Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 17, SaltLen: 16, KeyLen: 32}, false},
		{"zero iterations", owasp(19456, 0), false},
		{"101 iterations", owasp(19456, 101), false},
		{"memory over 4 GiB", owasp(4<<20+1, 1), false},
		{"cost over ceiling", owasp(1<<20, 5), false},
		{"salt 8 bytes", Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 8, KeyLen: 32}, false},
		{"salt 65 bytes", Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 65, KeyLen: 32}, false},
		{"key 8 bytes", Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 8}, false},
		{"key 65 bytes", Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 65}, false},
		{"test params keep salt floor", cheapShortSalt, false},
		{"test params keep ceilings", cheapHuge, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate(%+v) = %v", tt.p, err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("Validate(%+v) = %v, want ErrInvalidParams", tt.p, err)
			}
		})
	}
}

func TestDefaultParamsMeetOWASP(t *testing.T) {
	p := DefaultParams()
	if p.MemoryKiB < 19456 || p.Iterations < 2 || p.Parallelism < 1 || p.SaltLen < 16 || p.KeyLen < 32 {
		t.Fatalf("DefaultParams() = %+v, below OWASP's m=19456 t=2 p=1", p)
	}
}

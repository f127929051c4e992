package connectors

import (
	"context"
	"fmt"
	"math/big"
	"time"
)

var million = big.NewRat(1_000_000, 1)

// DecimalToMicros converts a decimal string in currency units to micros exactly,
// rounding half away from zero below a micro ("" is 0). Floats would get 2.01 wrong.
func DecimalToMicros(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("not a decimal number: %q", s)
	}
	r.Mul(r, million)
	num, den := new(big.Int).Set(r.Num()), r.Denom()
	// Round half away from zero: trunc((2·num + sign·den) / (2·den)).
	num.Mul(num, big.NewInt(2))
	if num.Sign() >= 0 {
		num.Add(num, den)
	} else {
		num.Sub(num, den)
	}
	q := num.Quo(num, new(big.Int).Mul(den, big.NewInt(2)))
	if !q.IsInt64() {
		return 0, fmt.Errorf("%q overflows int64 micros", s)
	}
	return q.Int64(), nil
}

// Sleep waits d or until ctx ends, for clients backing off between attempts.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SetDefault sets *v to d when it holds its zero value, for filling a Config's
// unset knobs.
func SetDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

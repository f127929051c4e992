package aggregate

import (
	"fmt"
	"time"
)

// Bucket widths in seconds. Unix time has no leap seconds, so every day, and hence
// every week, is exactly this long and buckets are plain integer arithmetic.
const (
	windowSeconds = int64(WindowSize / time.Second)
	hourSeconds   = 3600
	daySeconds    = 24 * hourSeconds
	weekSeconds   = 7 * daySeconds
	// mondayOffset is how far the first Monday after the epoch (1970-01-05, the epoch
	// being a Thursday) lies from it: ISO weeks are aligned to it, not to the epoch.
	mondayOffset = 4 * daySeconds
)

// BucketStart returns the start of the bucket of level l that t falls in, in UTC:
// 5-second windows aligned to multiples of 5 Unix seconds, hours, days, and ISO weeks
// starting on Monday at 00:00. It panics on a level not in Levels, which only a
// programming error can produce.
func BucketStart(l Level, t time.Time) Bucket {
	return bucketOf(l, t.Unix())
}

// bucketOf is BucketStart on Unix seconds. t.Unix rounds towards minus infinity (the
// nanoseconds are never negative), so a timestamp inside a second lands in that
// second's bucket.
func bucketOf(l Level, unix int64) Bucket {
	switch l {
	case Window:
		return floorTo(unix, windowSeconds)
	case Hour:
		return floorTo(unix, hourSeconds)
	case Day:
		return floorTo(unix, daySeconds)
	case Week:
		return floorTo(unix-mondayOffset, weekSeconds) + mondayOffset
	}
	panic(fmt.Sprintf("aggregate: unknown level %q", l))
}

// floorTo rounds x down to a multiple of size, also for times before 1970, where Go's
// truncating division would round up.
func floorTo(x, size int64) int64 {
	r := x % size
	if r < 0 {
		r += size
	}
	return x - r
}

// BucketTime returns the start of bucket b as a UTC time.
func BucketTime(b Bucket) time.Time { return time.Unix(b, 0).UTC() }

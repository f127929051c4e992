package streaming

import (
	"reflect"
	"testing"
)

func TestSplitPartitionsBalancesEvents(t *testing.T) {
	polled := func(counts map[int32]int) map[int32]*partitionRecords {
		out := map[int32]*partitionRecords{}
		for p, n := range counts {
			out[p] = &partitionRecords{events: make([]accepted, n)}
		}
		return out
	}
	for _, c := range []struct {
		name   string
		counts map[int32]int
		n      int
		want   [][]int32
	}{
		{"one partition stays one group", map[int32]int{3: 100}, 2, [][]int32{{3}}},
		{"two partitions, two groups", map[int32]int{0: 10, 5: 7}, 2, [][]int32{{0}, {5}}},
		{"largest first, onto the lightest", map[int32]int{0: 50, 1: 30, 2: 25, 3: 1}, 2, [][]int32{{0, 3}, {1, 2}}},
		{"empty partitions still get a group (their offsets move)", map[int32]int{0: 0, 1: 9, 2: 0}, 2, [][]int32{{1}, {0, 2}}},
		{"one connection", map[int32]int{2: 1, 0: 1, 1: 1}, 1, [][]int32{{0, 1, 2}}},
		{"zero means one", map[int32]int{2: 1, 0: 1}, 0, [][]int32{{0, 2}}},
	} {
		if got := splitPartitions(polled(c.counts), c.n); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

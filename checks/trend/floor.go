package trend

// floorFilter returns the trailing rolling minimum of values over a window of
// the given length in seconds: out[i] = min{values[j] : times[i]−window < times[j] ≤ times[i]}.
// A saw-tooth (a pool filled and emptied, a process's heap between garbage
// collections) becomes its floor, whose drift is the leak. O(n) with a
// monotonic deque.
func floorFilter(times, values []float64, windowSeconds float64) []float64 {
	out := make([]float64, len(values))
	deque := make([]int, 0, 64) // indexes with increasing values
	head := 0
	for i, v := range values {
		for len(deque) > head && values[deque[len(deque)-1]] >= v {
			deque = deque[:len(deque)-1]
		}
		if head > len(deque) {
			head = len(deque)
		}
		deque = append(deque, i)
		for times[deque[head]] <= times[i]-windowSeconds {
			head++
		}
		out[i] = values[deque[head]]
		if head > 1024 && head*2 > len(deque) {
			deque = append(deque[:0], deque[head:]...)
			head = 0
		}
	}
	return out
}

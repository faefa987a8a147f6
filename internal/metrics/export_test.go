package metrics

// Settle waits for the store read under way, if any, to end.
func (m *Metrics) Settle() {
	m.state.mu.Lock()
	r := m.state.reading
	m.state.mu.Unlock()
	if r != nil {
		<-r
	}
}

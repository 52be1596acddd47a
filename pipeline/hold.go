package pipeline

// holdReasons returns a gate reason for every hold on this pipeline. Holds
// (promoter hold / release) are built by the operations work; until then
// there are none.
func (r *Runner) holdReasons() []string { return nil }

package diff

import (
	"fmt"
	"strings"
)

// lineOp is one line of a line diff: ' ' kept, '-' removed, '+' added.
type lineOp struct {
	Op   byte
	Text string
}

// maxLCSCells bounds the LCS table; beyond it the differing middle is shown as
// all removed then all added (still correct, just less precise).
const maxLCSCells = 4_000_000

// lineDiff computes a minimal line diff of a and b by longest common
// subsequence, after trimming the common prefix and suffix.
func lineDiff(a, b []string) []lineOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ops := make([]lineOp, 0, len(a)+len(b))
	for _, l := range a[:pre] {
		ops = append(ops, lineOp{' ', l})
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	n, m := len(ma), len(mb)
	if n*m > maxLCSCells {
		for _, l := range ma {
			ops = append(ops, lineOp{'-', l})
		}
		for _, l := range mb {
			ops = append(ops, lineOp{'+', l})
		}
	} else {
		// lcs[i][j] = length of the LCS of ma[i:] and mb[j:]
		w := m + 1
		lcs := make([]int32, (n+1)*w)
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && ma[i] == mb[j]:
				ops = append(ops, lineOp{' ', ma[i]})
				i++
				j++
			case i < n && (j == m || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
				ops = append(ops, lineOp{'-', ma[i]})
				i++
			default:
				ops = append(ops, lineOp{'+', mb[j]})
				j++
			}
		}
	}
	for _, l := range a[len(a)-suf:] {
		ops = append(ops, lineOp{' ', l})
	}
	return ops
}

// unifiedDiff renders the line diff of old and new text as unified hunks
// with context lines of context, without file headers. It returns "" when
// the texts have the same lines.
func unifiedDiff(old, new string, context int) string {
	a, b := splitLines(old), splitLines(new)
	ops := lineDiff(a, b)
	var out strings.Builder
	// positions of changed ops
	for i := 0; i < len(ops); {
		if ops[i].Op == ' ' {
			i++
			continue
		}
		start := max(i-context, 0)
		end := i
		// extend the hunk while changes are within 2*context of each other
		for k := i; k < len(ops); k++ {
			if ops[k].Op != ' ' {
				end = k
			} else if k-end > 2*context {
				break
			}
		}
		stop := min(end+context+1, len(ops))
		oldStart, newStart := 1, 1
		for _, op := range ops[:start] {
			if op.Op != '+' {
				oldStart++
			}
			if op.Op != '-' {
				newStart++
			}
		}
		oldN, newN := 0, 0
		for _, op := range ops[start:stop] {
			if op.Op != '+' {
				oldN++
			}
			if op.Op != '-' {
				newN++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(oldStart, oldN), hunkRange(newStart, newN))
		for _, op := range ops[start:stop] {
			out.WriteByte(op.Op)
			out.WriteString(op.Text)
			out.WriteByte('\n')
		}
		i = stop
	}
	return out.String()
}

func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start-1)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

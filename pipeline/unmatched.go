package pipeline

import (
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"

	"promoter/config"
	"promoter/spconfig"
)

// UnmatchedRule is an exclude or mapping of the pipeline that matches no
// object of the source export (nor, for an exclude, of the live target):
// most often a typo in its name, which would otherwise match nothing in
// silence.
type UnmatchedRule struct {
	Rule    string `json:"rule"` // pipelines[0].exclude[1] (line 18)
	Type    string `json:"type,omitempty"`
	Name    string `json:"name,omitempty"`
	Message string `json:"message"`
}

// unmatchedRules lists the pipeline's excludes and mappings that match none
// of the source objects (src) or, for excludes, of the excluded live target
// objects (liveExcluded). With no source object at all nothing is reported:
// there is no export to compare with yet.
func (r *Runner) unmatchedRules(src []*spconfig.Entry, liveExcluded []spconfig.Key) []UnmatchedRule {
	p := r.Pipeline
	out := []UnmatchedRule{}
	if len(src) == 0 {
		return out
	}
	// the keys of src and, for exclude rules, the live objects excluded
	keys := func(live bool) iter.Seq[spconfig.Key] {
		return func(yield func(spconfig.Key) bool) {
			for _, e := range src {
				if !yield(e.Key()) {
					return
				}
			}
			if !live {
				return
			}
			for _, k := range liveExcluded {
				if !yield(k) {
					return
				}
			}
		}
	}
	report := func(rule, typ, name, where string, keys iter.Seq[spconfig.Key], matches func(spconfig.Key) bool) {
		for k := range keys {
			if matches(k) {
				return
			}
		}
		msg := fmt.Sprintf("matches no object of %s", where)
		if typ != "" && !slices.Contains(p.Types(), typ) {
			msg += fmt.Sprintf("; %s is not among the pipeline's types", typ)
		} else if name != "" && !config.IsRegexpName(name) {
			var names []string
			for k := range keys {
				if typ == "" || k.Type == typ {
					names = append(names, k.Name)
				}
			}
			if s := config.Suggest(name, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", strconv.Quote(s))
			}
		}
		out = append(out, UnmatchedRule{Rule: rule, Type: typ, Name: name, Message: msg + "; check its type and name, or remove it"})
	}
	for i, x := range p.Exclude {
		report(r.Config.Where(p, fmt.Sprintf("exclude[%d]", i)), x.Type, x.Name, fmt.Sprintf("the %s export or of %s", p.Source, p.Target),
			keys(true), func(k spconfig.Key) bool { return x.Matches(k.Type, k.Scope, k.Name) })
	}
	for i, m := range p.Mappings {
		report(r.Config.Where(p, fmt.Sprintf("mappings[%d]", i)), m.Type, m.Name, fmt.Sprintf("the %s export", p.Source), keys(false),
			func(k spconfig.Key) bool { return m.Matches(k.Type, k.Scope, k.Name) })
	}
	return out
}

func (u UnmatchedRule) String() string {
	var parts []string
	if u.Type != "" {
		parts = append(parts, "type: "+u.Type)
	}
	if u.Name != "" {
		parts = append(parts, "name: "+strconv.Quote(u.Name))
	}
	return fmt.Sprintf("%s {%s} %s", u.Rule, strings.Join(parts, ", "), u.Message)
}

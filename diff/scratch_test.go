package diff

import (
	"fmt"
	"testing"
)

func TestScratch(t *testing.T) {
	r := sampleResult(t)
	for _, c := range r.Changes {
		fmt.Println(c.Kind, c.Key)
		for _, f := range c.Fields {
			fmt.Printf("    %s %s %.200s -> %.200s\n", f.Kind, f.Path, f.Old, f.New)
		}
	}
}

package spconfig

import "testing"

// TestTypeListsAreCopies: a caller changing a returned list changes nothing
// for the next caller (issue 17 item 11).
func TestTypeListsAreCopies(t *testing.T) {
	for name, list := range map[string]func() []string{"ExportableTypes": ExportableTypes, "ImportableTypes": ImportableTypes, "HubTypes": HubTypes} {
		l := list()
		want := l[0]
		l[0] = "CHANGED"
		if got := list()[0]; got != want {
			t.Errorf("%s()[0] = %q after a caller changed its copy, want %q", name, got, want)
		}
	}
	if n := len(ExportableTypes()); n != 25 {
		t.Errorf("%d exportable types, want 25", n)
	}
	if n := len(ImportableTypes()); n != 7 {
		t.Errorf("%d importable types, want 7", n)
	}
	if n := len(HubTypes()); n != 24 {
		t.Errorf("%d Configuration Hub types, want 24", n)
	}
}
